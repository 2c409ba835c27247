"""What the enrolment screens draw; changed only by their own methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from carnet.core.observable import Observable, OnlineScreenUi, change
from carnet.patients.qr import QrImage
from carnet_contract import enrolment as wire
from carnet_contract import models as contract


@dataclass(eq=False)
class FamilyEnrolmentUi(Observable):
    """A family's side: "Tengo un código de activación" (login screen), "Agregar un niño con código" (Mi cuenta),
    and who else has access to each child (carnet screen, as of the last sync)."""

    #: The activation screen is shown instead of the login form.
    activating: bool = False
    busy: bool = False
    #: Problems by field: ``code``, ``username``, ``password``, ``repeat``; ``form`` for the whole form.
    errors: dict[str, str] = field(default_factory=dict)
    #: Linking a child: its problems (``code``, ``form``) and whether it is being sent.
    link_errors: dict[str, str] = field(default_factory=dict)
    linking: bool = False
    #: patient id → its guardians (the caller marked ``is_me``), fetched when online, in memory only.
    guardians: dict[str, list[wire.GuardianOut]] = field(default_factory=dict)

    @change
    def open_activation(self, opened: bool) -> None:
        self.activating, self.errors = opened, {}

    @change
    def checked(self, errors: dict[str, str]) -> None:
        self.errors = errors

    @change
    def start(self) -> None:
        self.busy = True

    @change
    def stop(self, errors: dict[str, str] | None = None) -> None:
        self.busy = False
        if errors is not None:
            self.errors = errors

    @change
    def link_checked(self, errors: dict[str, str]) -> None:
        self.link_errors = errors

    @change
    def start_link(self) -> None:
        self.linking, self.link_errors = True, {}

    @change
    def stop_link(self, errors: dict[str, str] | None = None) -> None:
        self.linking = False
        if errors is not None:
            self.link_errors = errors

    @change
    def show_guardians(self, guardians: dict[str, list[wire.GuardianOut]]) -> None:
        self.guardians = guardians


@dataclass(eq=False)
class OncologyUi(OnlineScreenUi):
    """The oncology desk (online only, nothing kept on the device): search, a child's record and guardians, the
    registration form, a guardian's new activation code, the registry figures."""

    #: The caller's units (where a child may be registered).
    units: list[contract.Unit] = field(default_factory=list)
    diagnoses: list[wire.DiagnosisEntry] = field(default_factory=list)
    query: str = ""
    #: None until a search was made.
    results: list[wire.PatientRecord] | None = None
    record: wire.PatientRecord | None = None
    guardians: list[wire.GuardianOut] = field(default_factory=list)
    invitations: list[wire.InvitationOut] = field(default_factory=list)
    #: The record's history: corrections and referrals (who, what, old → new, when).
    corrections: list[wire.Correction] = field(default_factory=list)
    #: Every unit (a referral names any), and the one chosen for the referral's confirm step.
    all_units: list[contract.Unit] = field(default_factory=list)
    refer_to: str | None = None
    #: The code just made (shown this once, large and as a QR), for whom, and its QR.
    issued: wire.Invitation | None = None
    issued_for: str = ""
    issued_qr: QrImage | None = None
    #: The guardian whose removal awaits its confirm step (user id).
    removing: str | None = None
    #: Registration form: problems by field (``form`` for the whole form).
    form_errors: dict[str, str] = field(default_factory=dict)
    #: 409 ``patient_similar``: the ids of the similar records; registering again confirms.
    similar: list[str] = field(default_factory=list)
    #: 409 ``patient_exists``: the existing record the caller may open.
    existing_id: str | None = None
    #: Guardian form: problems by field.
    guardian_errors: dict[str, str] = field(default_factory=dict)
    #: Bumped when a form was sent and accepted (the view empties its fields).
    sent: int = 0
    week: date | None = None
    figures: wire.RegistryFigures | None = None
    #: Bulk import: the picked file (name, bytes), the last answer (a dry run or the import) and every
    #: refused row's reason ("Fila N: …").
    import_file: tuple[str, bytes] | None = None
    import_result: wire.ImportResult | None = None
    import_errors: list[str] = field(default_factory=list)

    @change
    def show_reference(self, units: list[contract.Unit], diagnoses: list[wire.DiagnosisEntry]) -> None:
        self.units, self.diagnoses = units, diagnoses

    @change
    def show_results(self, query: str, results: list[wire.PatientRecord] | None) -> None:
        self.query, self.results = query, results

    @change
    def open_record(self, record: wire.PatientRecord | None) -> None:
        """Another child (or none): nothing of the last one's codes or confirm steps stays."""
        if record is None or self.record is None or record.id != self.record.id:
            self.guardians, self.invitations, self.corrections = [], [], []
            self.issued, self.issued_for, self.issued_qr = None, "", None
        self.record, self.removing, self.guardian_errors = record, None, {}
        self.message = self.error = None

    @change
    def show_access(self, guardians: list[wire.GuardianOut], invitations: list[wire.InvitationOut]) -> None:
        self.guardians, self.invitations = guardians, invitations

    @change
    def show_history(self, corrections: list[wire.Correction]) -> None:
        self.corrections = corrections

    @change
    def show_all_units(self, units: list[contract.Unit]) -> None:
        self.all_units = units

    @change
    def choose_referral(self, unit_id: str | None) -> None:
        self.refer_to = unit_id

    @change
    def corrected(self, record: wire.PatientRecord, message: str) -> None:
        """A correction or a referral accepted: the record as the server has it now."""
        self.form_errors, self.similar, self.existing_id, self.refer_to = {}, [], None, None
        self.record, self.message, self.error = record, message, None
        self.sent += 1

    @change
    def start_form(self) -> None:
        self.form_errors, self.similar, self.existing_id = {}, [], None
        self.message = self.error = None

    @change
    def form_refused(
        self, errors: dict[str, str], *, similar: list[str] | None = None, existing_id: str | None = None
    ) -> None:
        self.form_errors, self.similar, self.existing_id = errors, similar or [], existing_id

    @change
    def registered(self, record: wire.PatientRecord, message: str) -> None:
        self.form_errors, self.similar, self.existing_id = {}, [], None
        self.record, self.guardians, self.invitations = record, [], []
        self.issued, self.issued_for, self.issued_qr = None, "", None
        self.sent += 1
        self.message, self.error = message, None

    @change
    def guardian_refused(self, errors: dict[str, str]) -> None:
        self.guardian_errors = errors

    @change
    def code_issued(self, invitation: wire.Invitation, name: str, qr: QrImage | None) -> None:
        self.issued, self.issued_for, self.issued_qr = invitation, name, qr
        self.guardian_errors = {}
        self.sent += 1

    @change
    def forget_code(self) -> None:
        self.issued, self.issued_for, self.issued_qr = None, "", None

    @change
    def ask_remove(self, user_id: str | None) -> None:
        self.removing = user_id

    @change
    def open_week(self, week: date) -> None:
        self.week, self.figures = week, None

    @change
    def show_figures(self, week: date, figures: wire.RegistryFigures) -> None:
        if self.week == week:
            self.figures = figures

    @change
    def open_import(self) -> None:
        self.import_file, self.import_result, self.import_errors = None, None, []

    @change
    def import_picked(self, name: str, data: bytes) -> None:
        self.import_file, self.import_result, self.import_errors = (name, data), None, []

    @change
    def import_checked(self, result: wire.ImportResult | None, errors: list[str]) -> None:
        self.import_result, self.import_errors = result, errors

    @change
    def show_message(self, message: str | None) -> None:
        self.message = message
