"""Rules mode: load bodies of Sigma rules safely, identify their IOCs, compile them, judge them."""
