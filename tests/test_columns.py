"""TextColumn: the per-recipient texts of a job held as one str (extra_ids, batch texts,
broadcast substitutions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mock_hyber.model import TextColumn, TextColumnBuilder


def test_values_come_back_as_given() -> None:
    values = ["AD-1", None, "", "Привіт 👋", "AD-1"]
    column = TextColumn(values)
    assert len(column) == 5
    assert [column[i] for i in range(5)] == values
    assert column.to_list() == values


def test_indexes_of_finds_whole_values_only() -> None:
    column = TextColumn(["1", "11", "21", None, "1", "", "x1y"])
    assert column.indexes_of("1") == [0, 4]
    assert column.indexes_of("11") == [1]
    assert column.indexes_of("") == [5]
    assert column.indexes_of("2") == []


@given(st.lists(st.one_of(st.none(), st.text(max_size=6, alphabet="ab1é")), max_size=40))
def test_a_column_agrees_with_the_list_it_was_made_from(values: list[str | None]) -> None:
    column = TextColumn(values)
    assert column.to_list() == values
    assert [column[i] for i in range(len(values))] == values
    for probe in {value for value in values if value is not None} | {"a", "zz"}:
        assert column.indexes_of(probe) == [i for i, v in enumerate(values) if v == probe]


@given(st.lists(st.one_of(st.none(), st.text(max_size=4, alphabet="ab1")), min_size=20))
def test_large_columns_agree_too(values: list[str | None]) -> None:
    column = TextColumn(values)  # above TextColumn.SMALL: the packed form
    assert column.to_list() == values
    assert [column[i] for i in range(len(values))] == values
    for probe in {value for value in values if value is not None}:
        assert column.indexes_of(probe) == [i for i, v in enumerate(values) if v == probe]


@given(
    st.lists(st.one_of(st.none(), st.text(max_size=4, alphabet="ab1é")), max_size=60),
    st.lists(st.integers(0, 25), max_size=8),
)
def test_a_column_built_in_slices_is_the_column_of_the_whole_list(
    values: list[str | None], cuts: list[int]
) -> None:
    builder, start = TextColumnBuilder(), 0
    for cut in [*cuts, len(values)]:  # slices of any size, empty ones included
        stop = min(len(values), start + cut)
        builder.add(values[start:stop])
        start = stop
    builder.add(values[start:])
    column = builder.build()
    assert builder.any_value == any(value is not None for value in values)
    assert column.to_list() == values
    assert [column[i] for i in range(len(values))] == values
    for probe in {value for value in values if value is not None} | {""}:
        assert column.indexes_of(probe) == [i for i, v in enumerate(values) if v == probe]
