"""Guardians' access to a child: the routes of activation codes, activation, who has access and removal
(the rules are in enrolment/invitations.py)."""
