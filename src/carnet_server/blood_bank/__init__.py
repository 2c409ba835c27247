"""Blood-bank donor bookings: banks, slots from weekly templates, eligibility, bookings, staff day list."""
