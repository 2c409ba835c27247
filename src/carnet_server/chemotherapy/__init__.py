"""The chemotherapy plan on the server: dose arithmetic (``dosing``) and the example regimen catalogue."""
