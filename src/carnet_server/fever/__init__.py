"""Fever episodes (Hora Dorada), the emergency card and its QR, the IPS export, the weekly figures."""
