"""Taking a cell out of IPython's history: the lists, ``_iN`` and history.sqlite. Used when
a cell's words may hold a password typed in the wrong place."""

from __future__ import annotations


def forget_input(shell, name: str) -> None:
    """Take this cell out of IPython's history (the lists, ``_iN`` and history.sqlite): its
    unexpected words may be a password typed by mistake. The saving thread writes the
    cache under the same lock, so the cell is either still cached or already saved."""
    history = getattr(shell, "history_manager", None)
    if history is None or not history.input_hist_raw:
        return
    if name not in history.input_hist_raw[-1]:
        return  # this cell was not stored (store_history=False): leave the others alone
    number = len(history.input_hist_raw) - 1  # this cell's line (entry 0 is a blank)
    masked = f"%{name} ...  # removed from the history: it may have held a password"
    for entries in (history.input_hist_raw, history.input_hist_parsed):
        entries[-1] = masked
    history._i00 = masked
    shell.user_ns[f"_i{number}"] = masked
    with history.db_input_cache_lock:
        history.db_input_cache = [
            (n, masked, masked) if n == number else (n, source, raw)
            for n, source, raw in history.db_input_cache
        ]
        try:
            history.db.execute("PRAGMA secure_delete = ON")  # no old copy left in free pages
            with history.db:
                history.db.execute(
                    "UPDATE history SET source=?, source_raw=? WHERE session=? AND line=?",
                    (masked, masked, history.session_number, number),
                )
        except Exception:  # noqa: BLE001 - history disabled, or a dummy database
            pass
