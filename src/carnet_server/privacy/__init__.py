"""Privacy: the versioned privacy notice (aviso de privacidad), the family's data export and account closure."""
