"""Fever during chemotherapy, "Hora Dorada" (issue #19): the family's button, the emergency card, the unit's clock."""
