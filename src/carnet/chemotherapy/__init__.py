"""The chemotherapy plan on the phone and the desks: doses as words, the oncology desk's prescription."""
