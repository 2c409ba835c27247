"""Privacy: the notice a guardian accepts before any of the children's data is fetched, and their data
rights (their privacy status, "Descargar mis datos", the account closure request)."""
