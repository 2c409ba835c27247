"""The blood_bank screens."""
