"""The fever screens (Hora Dorada): the family's and the unit's."""
