"""Enrolment on the app's side: a family's activation code (login screen), linking one more child and who else
has access (guardians), and the oncology desk (search, register, guardians' codes, registry figures). No Flet."""
