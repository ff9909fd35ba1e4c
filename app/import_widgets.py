"""Where an imported object came from ("imported from Grafana OnCall, S1X2Y3Z"), for the console pages."""

from __future__ import annotations

import streamlit as st

from app.imports import service as imports
from app.widgets import db, db_key


@st.cache_data(ttl=30)
def origins(kind: str, _key: str) -> dict[int, str]:
    """Local id → where it was imported from, for one kind (users, schedules…)."""
    with db() as session:
        return imports.origins(session=session, kind=kind)


def origin_of(kind: str, local_id: int) -> str | None:
    return origins(kind, db_key()).get(local_id)


def origin_caption(kind: str, local_id: int) -> None:
    """A caption under an object that was imported; nothing for one made in SLAR."""
    text = origin_of(kind, local_id)
    if text:
        st.caption(text)
