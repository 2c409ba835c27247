"""What the blood-bank screens draw (families' bookings, staff's day list)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from carnet.blood_bank.form import DonorForm
from carnet.blood_bank.repository import BookingView
from carnet_contract import models as contract


@dataclass
class BloodBankUi:
    """The "Banco de sangre" tab: the choices made, the slots shown, the form, "Mis citas de donación"."""

    patient_id: str | None = None
    bank_id: str | None = None
    day: date | None = None
    banks: list[contract.BloodBank] = field(default_factory=list)
    slots: list[contract.Slot] = field(default_factory=list)
    #: When the slots shown were fetched (None: none saved for this bank and day).
    slots_fetched_at: datetime | None = None
    #: True when the slots shown come from the phone's cache (no answer from the server just now).
    slots_cached: bool = False
    loading_slots: bool = False
    questions: list[contract.Question] = field(default_factory=list)
    form: DonorForm | None = None
    bookings: list[BookingView] = field(default_factory=list)
    selected_id: str | None = None
    confirm_cancel: bool = False
    #: The booking whose new slot is being chosen (reschedule), else None.
    rescheduling_id: str | None = None
    message: str | None = None


@dataclass
class StaffUi:
    """Blood-bank staff (online only): their banks, the day's list, donor counts per child."""

    banks: list[contract.BloodBank] = field(default_factory=list)
    bank_id: str | None = None
    day: date | None = None
    bookings: list[contract.StaffBooking] = field(default_factory=list)
    #: patient id → (display name, came today, came this week, booked this week)
    counts: list[tuple[str, int, int, int]] = field(default_factory=list)
    loading: bool = False
    #: Booking ids whose check-in / no-show is being sent.
    busy_ids: set[str] = field(default_factory=set)
    message: str | None = None
    error: str | None = None
