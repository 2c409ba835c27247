"""The registry of children (register, correct, refer, search), guardians' activation codes, the registry
figures and the bulk CSV import."""
