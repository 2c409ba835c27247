""" "Mi cuenta": the password change (every role), and the way to a guardian's data rights
(:mod:`carnet.privacy.rights`)."""
