"""The donor form with the questionnaire. Kept alive while shown so typed text survives redraws."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flet as ft

from carnet.blood_bank.form import DonorForm
from carnet.core.i18n import Translator
from carnet.shell.state import AppState
from carnet.views.blood_bank.bookings import refusal_card, slot_when
from carnet.views.common import GREEN, MIN_TOUCH, Handler, app_bar, banner, screen, section
from carnet_contract import models as contract

if TYPE_CHECKING:
    from carnet.blood_bank.cases import BloodBankCases


class BookingFormView:
    def __init__(self, form: DonorForm, cases: BloodBankCases) -> None:
        self.form = form
        self._cases = cases
        self.full_name = ft.TextField(
            value=form.full_name,
            max_length=120,
            text_size=17,
            capitalization=ft.TextCapitalization.WORDS,
            autocorrect=False,
        )
        self.phone = ft.TextField(value=form.phone, keyboard_type=ft.KeyboardType.PHONE, text_size=17, max_length=20)
        self.birth = ft.TextField(
            value=form.birth_text, keyboard_type=ft.KeyboardType.DATETIME, text_size=17, error_max_lines=3
        )
        self.weight = ft.TextField(
            value=form.weight_text, keyboard_type=ft.KeyboardType.NUMBER, text_size=17, suffix="kg"
        )
        self.last_donation = ft.TextField(
            value=form.last_donation_text, keyboard_type=ft.KeyboardType.DATETIME, text_size=17, error_max_lines=3
        )
        #: The donor's consent to a WhatsApp reminder the day before (off by default; kept across redraws).
        self.reminder = ft.Checkbox(value=form.reminder_consent, visual_density=ft.VisualDensity.STANDARD)

    def read(self) -> DonorForm:
        f = self.form
        return DonorForm(
            patient_id=f.patient_id,
            slot_id=f.slot_id,
            full_name=self.full_name.value or "",
            phone=self.phone.value or "",
            birth_text=self.birth.value or "",
            weight_text=self.weight.value or "",
            sex=f.sex,
            last_donation_text=self.last_donation.value or "",
            reminder_consent=bool(self.reminder.value),
            answers=f.answers,
        )

    def _toggle_reminder(self, _: Any = None) -> None:
        self.reminder.value = not self.reminder.value
        self.reminder.update()

    def _reminder_row(self, tr: Translator) -> ft.Control:
        """The consent checkbox, named by the words beside it (which toggle it too, and wrap on a narrow phone)."""
        return ft.MergeSemantics(
            ft.Row(
                [
                    self.reminder,
                    ft.Container(
                        ft.Column(
                            [
                                ft.Text(tr.t("bb_reminder_consent"), size=16),
                                ft.Text(tr.t("bb_reminder_consent_note"), size=13, color=ft.Colors.GREY_800),
                            ],
                            spacing=2,
                        ),
                        expand=True,
                        padding=ft.Padding.symmetric(vertical=6),
                        on_click=self._toggle_reminder,
                    ),
                ],
                spacing=4,
            )
        )

    def _submit(self, _: Any = None) -> None:
        self._cases.submit(self.read())

    @staticmethod
    def _pair(
        tr: Translator, question: str, value: bool | None, on_pick: Any, *, labels: tuple[str, str] | None = None
    ) -> ft.Control:
        """Two large buttons (sí / no); the chosen one is filled and says so to a screen reader."""
        words = labels or (tr.t("bb_yes"), tr.t("bb_no"))
        buttons: list[ft.Control] = []
        for word, answer in zip(words, (True, False), strict=True):
            chosen = value is answer
            name = tr.t("bb_answer_label", question=question, answer=word)
            kind = ft.FilledButton if chosen else ft.OutlinedButton
            buttons.append(
                kind(
                    content=ft.Text(
                        word,
                        size=17,
                        weight=ft.FontWeight.W_600,
                        semantics_label=tr.t("bb_selected", label=name) if chosen else name,
                    ),
                    height=52,
                    expand=True,
                    on_click=lambda _, a=answer: on_pick(a),
                    style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE) if chosen else None,
                )
            )
        return ft.Row(buttons, spacing=12)

    def build(self, state: AppState, tr: Translator, *, on_back: Handler) -> ft.View:
        ui = state.blood_bank
        form = ui.form or self.form
        self.form = form
        errors = form.errors
        fields = (
            (self.full_name, "full_name", "bb_full_name"),
            (self.phone, "phone", "bb_phone"),
            (self.birth, "birth", "bb_birth"),
            (self.weight, "weight", "bb_weight"),
            (self.last_donation, "last_donation", "bb_last_donation"),
        )
        for control, key, label in fields:
            control.label = tr.t(label)
            control.error = errors.get(key)
        bank = next((b for b in ui.banks if b.id == ui.bank_id), None)
        slot = next((s for s in ui.slots if s.id == form.slot_id), None)
        body: list[ft.Control] = []
        if ui.message and errors:
            body.append(
                banner(
                    ui.message,
                    icon=ft.Icons.ERROR_OUTLINE,
                    bgcolor=ft.Colors.RED_50,
                    color=ft.Colors.RED_900,
                    on_dismiss=lambda _: self._cases.dismiss_message(),
                    dismiss_label=tr.t("dismiss"),
                )
            )
        if form.refusal and form.refused_id:
            body.append(refusal_card(tr, form.refusal))  # reopened from the blood bank's answer: why, first
        for key in ("patient", "slot"):
            if key in errors:
                body.append(ft.Text(errors[key], color=ft.Colors.RED_900, size=15))
        summary = [
            ft.Text(bank.name if bank else "", size=17, weight=ft.FontWeight.W_600),
            ft.Text(slot_when(tr, slot), size=16),
        ]
        if len(state.children) > 1:
            summary.append(ft.Text(tr.t("bb_child_label", name=state.child_name(form.patient_id)), size=15))
        body.append(section(tr.t("bb_booking_title"), summary))
        sex = contract.DonorSex(form.sex) if form.sex in {s.value for s in contract.DonorSex} else None
        sex_pick = self._pair(
            tr,
            tr.t("bb_sex"),
            None if sex is None else sex is contract.DonorSex.MUJER,
            lambda woman: self._cases.set_sex("mujer" if woman else "hombre"),
            labels=(tr.t("bb_sex.mujer"), tr.t("bb_sex.hombre")),
        )
        donor: list[ft.Control] = [
            self.full_name,
            self.phone,
            self.birth,
            self.weight,
            ft.Text(tr.t("bb_sex"), size=15, weight=ft.FontWeight.W_600),
            sex_pick,
        ]
        if "sex" in errors:
            donor.append(ft.Text(errors["sex"], color=ft.Colors.RED_900, size=14))
        donor.append(self.last_donation)
        donor.append(self._reminder_row(tr))
        body.append(section(tr.t("bb_form_title"), donor))
        questions: list[ft.Control] = [ft.Text(tr.t("bb_questions_note"), size=14, color=ft.Colors.GREY_800)]
        for number, q in enumerate(ui.questions, start=1):
            text = f"{number}. {q.text}"
            questions += [
                ft.Text(text, size=16, weight=ft.FontWeight.W_500),
                self._pair(tr, text, form.answers.get(q.id), lambda value, qid=q.id: self._cases.answer(qid, value)),
            ]
        if "answers" in errors:
            questions.append(ft.Text(errors["answers"], color=ft.Colors.RED_900, size=15, weight=ft.FontWeight.W_600))
        body.append(section(tr.t("bb_questions"), questions))
        if form.refusal and not form.refused_id:
            body.append(refusal_card(tr, form.refusal))  # the phone's answer, where "Reservar" was tapped
        body += [
            ft.FilledButton(
                content=tr.t("bb_submit"),
                icon=ft.Icons.CHECK,
                height=56,
                on_click=self._submit,
                style=ft.ButtonStyle(bgcolor=GREEN, color=ft.Colors.WHITE),
            ),
            ft.Text(tr.t("bb_submit_note"), size=13, color=ft.Colors.GREY_700),
            ft.OutlinedButton(content=tr.t("cancel"), height=MIN_TOUCH, on_click=on_back),
        ]
        return screen("/blood-bank/form", app_bar(tr.t("bb_form_title"), tr, on_back=on_back), body)
