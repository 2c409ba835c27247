"""The redraw graft (``shell/graft.py``): a freshly drawn layout takes the place of the one on the page that
holds the same kept controls; kept controls and inputs are never re-described."""

from __future__ import annotations

import flet as ft

from carnet.shell.graft import Grafter


def _page_with(grafter: Grafter, build):  # type: ignore[no-untyped-def]
    grafter.start()
    drawn = build()
    root = ft.Column(drawn)
    grafter.drawn(root)
    return drawn


def test_a_kept_field_stays_in_the_column_that_held_it_even_when_a_banner_comes_first() -> None:
    grafter = Grafter()
    field = ft.TextField(label="Usuario")
    live = _page_with(grafter, lambda: [ft.Text("Hola"), ft.Column([field], spacing=12)])
    before = live[1]

    grafter.start()
    drawn = [ft.Container(ft.Text("Sin conexión")), ft.Text("Hola"), ft.Column([field], spacing=20)]
    result = grafter.graft(live, drawn)

    assert result[2] is before  # the column on the page, re-described
    assert before.controls == [field] and before.controls[0] is field
    assert before.spacing == 20
    assert result[0] is drawn[0] and result[1] is drawn[1]  # what is not layout is as drawn


def test_kept_layout_and_inputs_are_never_re_described() -> None:
    grafter = Grafter()
    kept_column = ft.Column([ft.Text("kept")], spacing=3)  # a view's own, made before any drawing
    live = _page_with(grafter, lambda: [kept_column, ft.TextField(label="a")])

    grafter.start()
    drawn = [ft.Column([ft.Text("new")], spacing=9), ft.TextField(label="b")]
    result = grafter.graft(live, drawn)

    assert result == drawn and result[0] is drawn[0] and result[1] is drawn[1]
    assert kept_column.spacing == 3 and live[1].label == "a"


def test_a_kept_control_drawn_again_is_itself() -> None:
    grafter = Grafter()
    kept = ft.Row([ft.Text("x")])
    live = _page_with(grafter, lambda: [kept])
    grafter.start()
    assert grafter.graft(live, [kept])[0] is kept


def test_layout_without_kept_controls_is_matched_by_place_and_type() -> None:
    grafter = Grafter()
    live = _page_with(grafter, lambda: [ft.Row([ft.Text("1")]), ft.Container(ft.Text("2"), padding=4)])
    old_row, old_box = live

    grafter.start()
    result = grafter.graft(live, [ft.Row([ft.Text("uno")]), ft.Column([ft.Text("dos")])])

    assert result[0] is old_row and old_row.controls[0].value == "uno"
    assert result[1] is not old_box  # another kind of control there: the new one


def test_a_merged_control_is_merged_once() -> None:
    grafter = Grafter()
    field = ft.TextField()
    live = _page_with(grafter, lambda: [ft.Column([field])])
    grafter.start()
    # The field is drawn once, but two new columns of the same kind compete for the old one's place.
    result = grafter.graft(live, [ft.Column([field]), ft.Column([ft.Text("otra")])])
    assert result[0] is live[0] and result[1] is not live[0]


def test_a_view_control_made_during_a_drawing_is_never_re_described_once_drawn_again() -> None:
    """A view made lazily while the first screen is drawn: its own column looks fresh that once."""
    grafter = Grafter()
    grafter.start()
    owned = ft.Column([ft.Text("coincidencias")])  # the view's, made during the drawing
    live = [owned]
    grafter.drawn(ft.Column(live))

    grafter.start()
    fresh = ft.Column([ft.Text("otra cosa")])
    result = grafter.graft(live, [fresh, owned])  # the view draws its column again, below something new
    assert result[0] is fresh and result[1] is owned
    assert owned.controls[0].value == "coincidencias"
