"""The enrolment screens: activation (login), linking a child (Mi cuenta), the oncology desk."""
