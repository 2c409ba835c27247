"""One family login's objects, created at login and dropped at logout (:class:`LoginScope`).

The store-bound repositories, the outbox, the sync engine with the features' syncables, and the
per-login use cases (children and carnets, agenda, blood-bank bookings, incident reports, reminder
preferences, fever) all belong to one person's login; the session holds one scope or none, so nothing per-user
is left half-set between logins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from carnet.agenda.cases import AgendaCases
from carnet.agenda.repository import AgendaRepository
from carnet.agenda.syncable import AppointmentSyncable
from carnet.blood_bank.cases import BloodBankCases
from carnet.blood_bank.repository import BookingRepository
from carnet.blood_bank.syncable import BookingSyncable
from carnet.core.clock import Clock
from carnet.core.i18n import Translator
from carnet.data.api import ApiClient, ApiError
from carnet.data.outbox import Backoff, Outbox
from carnet.data.records import SyncLedger
from carnet.data.store import OfflineStore
from carnet.data.sync import SyncEngine
from carnet.fever.cases import FeverCases
from carnet.fever.repository import FeverRepository
from carnet.fever.syncable import FeverSyncable
from carnet.incidents.cases import IncidentCases
from carnet.incidents.repository import IncidentRepository
from carnet.incidents.syncable import IncidentSyncable
from carnet.patients.cases import CarnetCases
from carnet.patients.repository import CarnetRepository
from carnet.patients.syncable import CycleSyncable
from carnet.reminders.preferences import ReminderPreferenceCases, ReminderRepository, ReminderSyncable
from carnet.shell.state import AppState

__all__ = ["LoginScope"]


@dataclass
class LoginScope:
    """What exists only while one person is logged in (a family's account)."""

    user_id: str
    carnets: CarnetRepository
    outbox: Outbox
    ledger: SyncLedger
    records: AgendaRepository
    bookings: BookingRepository
    incidents: IncidentRepository
    engine: SyncEngine
    agenda: AgendaCases
    blood_bank: BloodBankCases
    report: IncidentCases
    patients: CarnetCases
    reminders: ReminderPreferenceCases
    fever_records: FeverRepository
    fever: FeverCases

    @classmethod
    def open(
        cls,
        user_id: str,
        *,
        store: OfflineStore,
        state: AppState,
        api: ApiClient,
        tr: Translator,
        clock: Clock,
        backoff: Backoff,
        describe: Callable[[ApiError], str],
        request_sync: Callable[[], None],
        session_expired: Callable[[], Awaitable[None]],
        qr_issuer: str | None,
        accepted_kids: tuple[str, ...],
    ) -> LoginScope:
        carnets = CarnetRepository(store, user_id)
        outbox = Outbox(store, user_id)
        records = AgendaRepository(store, user_id)
        bookings = BookingRepository(store, user_id)
        incidents = IncidentRepository(store, user_id)
        ledger = SyncLedger(store, user_id)
        engine = SyncEngine(api, outbox, ledger, clock=clock, backoff=backoff, describe=describe)
        # What each feature syncs: a new record type is registered here, and written in its feature only.
        engine.register(AppointmentSyncable(records))
        engine.register(BookingSyncable(bookings))
        engine.register(IncidentSyncable(incidents))
        engine.register(CycleSyncable(carnets))
        reminders = ReminderRepository(store, outbox)
        engine.register(ReminderSyncable(reminders))
        fever_records = FeverRepository(store, user_id)
        engine.register(FeverSyncable(fever_records))
        agenda = AgendaCases(
            state=state,
            records=records,
            ledger=ledger,
            outbox=outbox,
            tr=tr,
            clock=clock,
            request_sync=request_sync,
        )
        return cls(
            user_id=user_id,
            carnets=carnets,
            outbox=outbox,
            ledger=ledger,
            records=records,
            bookings=bookings,
            incidents=incidents,
            engine=engine,
            agenda=agenda,
            blood_bank=BloodBankCases(
                state=state,
                api=api,
                bookings=bookings,
                outbox=outbox,
                ledger=ledger,
                store=store,
                tr=tr,
                clock=clock,
                request_sync=request_sync,
                session_expired=session_expired,
            ),
            patients=CarnetCases(
                state=state,
                carnets=carnets,
                clock=clock,
                qr_issuer=qr_issuer,
                accepted_kids=accepted_kids,
                child_changed=agenda.load_next_appointment,
            ),
            report=IncidentCases(
                state=state,
                api=api,
                incidents=incidents,
                outbox=outbox,
                ledger=ledger,
                store=store,
                carnets=carnets,
                tr=tr,
                clock=clock,
                request_sync=request_sync,
            ),
            reminders=ReminderPreferenceCases(
                state=state,
                api=api,
                repository=reminders,
                tr=tr,
                clock=clock,
                request_sync=request_sync,
                session_expired=session_expired,
            ),
            fever_records=fever_records,
            fever=FeverCases(
                state=state,
                api=api,
                fever=fever_records,
                carnets=carnets,
                outbox=outbox,
                ledger=ledger,
                tr=tr,
                clock=clock,
                qr_issuer=qr_issuer,
                accepted_kids=accepted_kids,
                request_sync=request_sync,
            ),
        )

    def end(self) -> None:
        """The login ended (logout, expiry): work still running for it keeps nothing."""
        self.report.end()
