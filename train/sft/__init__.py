"""Stage one: format tuning (SFT) on COAT demonstrations."""
