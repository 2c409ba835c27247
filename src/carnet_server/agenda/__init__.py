"""Appointments: the hospital's and the family's own, with .ics export."""
