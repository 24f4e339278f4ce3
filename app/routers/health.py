"""Liveness and readiness."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.db import get_engine
from app.migrate import check_migrated

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready: the reason is in `detail`"}})
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is migrated; the matching index is loaded when matching is on."""
    try:
        check_migrated(get_engine())
    except Exception as error:  # any failure here means: not ready
        return JSONResponse(
            status_code=503,
            content={"detail": f"database not ready ({type(error).__name__}): run `koppelkans db upgrade`"},
        )
    checks = {"database": "ok"}
    readiness = getattr(request.app.state, "matching_readiness", None)
    if readiness is not None:
        ready, reason = readiness()
        if not ready:
            return JSONResponse(status_code=503, content={"detail": f"matching not ready: {reason}"})
        checks["matching"] = reason
        engine = getattr(getattr(request.app.state, "matching", None), "engine", None)
        if engine is not None:
            # How many needs' companies are precomputed (answered at once), of how many needs.
            checks["needs_precomputed"] = f"{engine.precomputed} of {engine.counts()['need']['documents']}"
            # Of those, searched by this worker and taken from the worker that searches for all.
            checks["precompute"] = engine.precompute_counts
            # Writes committed but not yet taken into the index (matched within seconds).
            checks["changes_waiting"] = request.app.state.matching.changes_waiting()
    return JSONResponse({"status": "ready", **checks})
