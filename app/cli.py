"""The `koppelkans` command line."""

import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import session_scope
from app.core.errors import KoppelkansError
from app.domain import Role
from app.models import User

app = typer.Typer(help="Koppelkans: matchmaking between MKB companies and defence needs and programmes.",
                  no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="People and their API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"
ADMIN_PASSWORD_FILE = "admin-password.txt"


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Number of worker processes")] = 1,
) -> None:
    """Serve the API and web interface (never seeds or migrates by itself)."""
    import uvicorn

    settings = get_settings()  # fail fast on bad configuration
    # Forwarded headers only from KOPPELKANS_TRUSTED_PROXIES (none by default): a client that sends
    # X-Forwarded-For itself must not choose the address its rate limits are counted by.
    uvicorn.run("app.main:app", host=host, port=port, workers=workers, **settings.proxy_options)  # type: ignore[arg-type]


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Migrate the database schema to the newest revision."""
    from app import migrate

    migrate.upgrade(revision=revision)
    typer.echo(f"database at {_safe_url()} is at revision {revision}")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="Username")],
    role: Annotated[Role, typer.Option(help="Role of the user")],
    org: Annotated[str | None, typer.Option(help="Slug of the user's organisation, e.g. ibdo")] = None,
    full_name: Annotated[str, typer.Option(help="Full name shown in the interface")] = "",
    password: Annotated[bool, typer.Option("--password", help="Also set a password (asked for) for web login")] = False,
) -> None:
    """Create a user; the new API token is printed as the last line (shown once)."""
    from app.services import users as user_service

    chosen_password = typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    try:
        with session_scope() as session:
            user = user_service.create_user(
                session=session, username=name, role=role, full_name=full_name,
                organisation_slug=org, password=chosen_password,
            )
            token, _ = user_service.issue_token(session=session, user=user, name="cli")
    except KoppelkansError as error:
        _fail(error.detail)
    typer.echo(f"created user {name!r} with role {role.value}; API token (shown once):", err=True)
    typer.echo(token)


@users_app.command("ensure-admin")
def users_ensure_admin() -> None:
    """Create the user `admin` with a random password if no admin exists, and say how to log in."""
    from app.services import users as user_service

    password_file = get_settings().data_dir / ADMIN_PASSWORD_FILE
    with session_scope() as session:
        admin = user_service.first_admin(session=session)
        if admin is None:
            password = secrets.token_urlsafe(12)
            admin = user_service.create_user(session=session, username="admin", role=Role.admin,
                                             full_name="Beheerder", password=password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n", encoding="utf-8")
            password_file.chmod(0o600)
        username = admin.username
    if password_file.exists():
        typer.echo(f"Log in as {username!r} with the password in {password_file}")
    else:
        typer.echo(f"Log in as {username!r} (reset its password with `koppelkans users set-password {username}`)")


@users_app.command("set-password")
def users_set_password(name: Annotated[str, typer.Argument(help="Username")]) -> None:
    """Set a user's password for web login."""
    from app.services import users as user_service

    password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with session_scope() as session:
        user = user_service.by_username(session=session, username=name)
        if user is None:
            _fail(f"no user named {name!r}")
        user_service.set_password(session=session, user=user, password=password)
    typer.echo(f"password of {name!r} changed; every session and token issued before ended")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="Username")]) -> None:
    """End every web session and bearer token of a user (a lost laptop, a leaked token); they log in again."""
    from app.services import users as user_service

    with session_scope() as session:
        user_service.end_sessions(session=session, user=_user_named(session, name))
    typer.echo(f"every session and token of {name!r} ended")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="Username")]) -> None:
    """Block a user: no login, and every session and token ends."""
    _set_active(name, active=False)
    typer.echo(f"user {name!r} disabled; every session and token ended")


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument(help="Username")]) -> None:
    """Let a disabled user log in again (its old sessions and tokens stay ended)."""
    _set_active(name, active=True)
    typer.echo(f"user {name!r} enabled")


def _set_active(name: str, *, active: bool) -> None:
    from app.services import users as user_service

    with session_scope() as session:
        user_service.set_active(session=session, user=_user_named(session, name), active=active)


def _user_named(session: Session, name: str) -> User:
    from app.services import users as user_service

    user = user_service.by_username(session=session, username=name)
    if user is None:
        _fail(f"no user named {name!r}")
    return user


@app.command()
def seed(
    demo: Annotated[bool, typer.Option(help="Also load the fictitious demo companies")] = False,
) -> None:
    """Load the taxonomy-backed seed data from seed/ (idempotent: a second run changes nothing)."""
    from app.services.seeding import SeedError, load_seed

    try:
        with session_scope() as session:
            report = load_seed(session, SEED_DIR, demo=demo, progress=sys.stderr.isatty())
    except SeedError as error:
        _fail(error.detail)
    typer.echo(str(report))


@app.command()
def reindex(
    fresh: Annotated[bool, typer.Option(help="Drop the saved index first (cached embeddings are kept)")] = False,
) -> None:
    """Bring the matching index in step with the database (encodes only new or changed texts) and
    save every need's companies with it."""
    import shutil

    from sqlmodel import Session

    from app.core.db import get_engine
    from app.services.matchable import documents_from_database
    from app.services.matching import build_engine

    settings = get_settings()
    engine = build_engine(settings)
    if fresh:
        shutil.rmtree(engine.data_dir / "index", ignore_errors=True)
    with Session(get_engine()) as session:
        started = time.perf_counter()
        reports = engine.load_or_build(lambda side: documents_from_database(session, side), progress=True,
                                       precompute=True)
    for report in reports.values():
        typer.echo(
            f"{report.side}: {report.added} added, {report.updated} updated, {report.removed} removed, "
            f"{report.unchanged} unchanged, {report.passages_encoded} passages encoded in {report.seconds:.1f} s"
        )
    searched = engine.precompute_counts["searched"]
    if searched:
        typer.echo(f"every need's companies found and saved ({searched} needs searched; "
                   f"{time.perf_counter() - started:.1f} s in all)")
    engine.close()


@app.command("eval")
def evaluate(
    dataset: Annotated[Path | None, typer.Argument(
        help="Only this development set (e.g. eval/dev.yaml), each signal and the engine's fused ranking per "
             "slice; without it: the pair model on the held-out folds of eval/dev.yaml and the CORDIS set")] = None,
    split: Annotated[str, typer.Option(help="With a dataset: dev, test or all")] = "all",
    data_dir: Annotated[Path | None, typer.Option(help="Keep the embedding cache here between runs")] = None,
    model: Annotated[Path | None, typer.Option(help="A pair model artifact (default: the packaged one)")] = None,
    feedback: Annotated[bool, typer.Option(
        "--feedback", help="Instead: how the server's pair model ranks the pairs staff judged")] = False,
) -> None:
    """Print nDCG@10 and MRR@10 of each signal, of rank fusion and of the pair model per language
    condition and for the CORDIS set on their held-out folds, with the calibration error and a
    reliability table."""
    if feedback:
        _feedback_report(model)
        return
    if dataset is not None:
        from app.matching.evaluate import run_eval

        if split not in ("dev", "test", "all"):
            _fail("split must be dev, test or all")
        if not dataset.exists():
            _fail(f"no dataset at {dataset}")
        run_eval(dataset, split=split, data_dir=data_dir)
        return
    from app.matching.datasets import CORDIS_PATH, DEV_PATH, EVAL_DIR
    from app.matching.pair_eval import run_held_out_report
    from app.matching.pair_model import DEFAULT_MODEL_PATH, PairModel

    missing = [str(path) for path in (DEV_PATH, CORDIS_PATH) if not path.exists()]
    if missing:
        _fail(f"the development sets are not here ({', '.join(missing)}): run this from a checkout of the project")
    model_path = model or DEFAULT_MODEL_PATH
    try:
        pair_model = PairModel.load(model_path)
    except (OSError, ValueError, KeyError) as error:
        _fail(f"cannot read the pair model {model_path}: {error}")
    run_held_out_report(data_dir or EVAL_DIR / ".cache", pair_model)


def _served_engine_with_feedback() -> tuple[Any, Any]:
    """The server's engine, brought in step with the database, and the judged pairs as labels."""
    from sqlmodel import Session

    from app.core.db import get_engine
    from app.matching.tuning import feedback_pairs
    from app.services.matchable import documents_from_database
    from app.services.matching import build_engine
    from app.services.tuning import judgements

    engine = build_engine(get_settings())
    with Session(get_engine()) as session:
        engine.load_or_build(lambda side: documents_from_database(session, side))
        labels = judgements(session)
    return engine, feedback_pairs(engine, labels)


def _feedback_report(model_path: Path | None) -> None:
    from app.matching.pair_model import PairModel
    from app.matching.tuning import feedback_report

    engine, pairs = _served_engine_with_feedback()
    try:
        if pairs is None:
            _fail("no feedback yet: staff mark matches relevant or not relevant on a match's page")
        model = PairModel.load(model_path) if model_path else engine.pair_model
        typer.echo(f"pair model {model.version} on staff feedback:")
        for name, value in feedback_report(model, pairs).items():
            typer.echo(f"  {name}: {value:.3f}" if not float(value).is_integer() else f"  {name}: {int(value)}")
    finally:
        engine.close()


@app.command("tune")
def tune_model(
    data_dir: Annotated[Path | None, typer.Option(help="Where the development sets' pair tables are kept")] = None,
) -> None:
    """Refit the pair model on the development sets plus staff feedback, and let the server use it
    (written to the data folder's matching/pair_model.json, read at start) only when its
    cross-validated metrics do not drop; otherwise say why and keep the current one."""
    from app.matching.datasets import EVAL_DIR, TUNING
    from app.matching.pair_data import training_pairs
    from app.matching.pair_eval import development_tables
    from app.matching.pair_fit import TrainingPairs
    from app.matching.tuning import install, tune

    engine, feedback = _served_engine_with_feedback()
    try:
        if feedback is None:
            _fail("no feedback yet: nothing to tune on; the current model stays")
        tables = development_tables(data_dir or EVAL_DIR / ".cache", progress=True)
        base = TrainingPairs.concatenate([training_pairs(table, name, [TUNING]) for name, (table, _) in tables.items()])
        current = engine.pair_model
        provenance = {**current.provenance, "feedback_needs": len(feedback.group_keys)}
        candidate, verdict = tune(base, feedback, current, provenance)
        if not verdict.accepted:
            _fail(f"the refit is refused: {verdict.reason}")
        path = install(candidate, engine.data_dir)
        typer.echo(f"pair model {candidate.version} written to {path}: {verdict.reason}; restart the server to use it")
    finally:
        engine.close()


@app.command("import")
def import_companies(
    file: Annotated[Path, typer.Argument(help="Companies as .csv (`,` or `;`; lists separated by `|`) or .jsonl")],
    index: Annotated[bool, typer.Option(help="Bring the matching index in step afterwards")] = True,
) -> None:
    """Register many companies at once; nothing is written when any record is invalid.

    Columns/keys as in POST /api/v1/companies (name, kvk_number, municipality, description,
    contact_email, consent, …). Imported companies get no edit token; the desk can issue one with
    `koppelkans companies edit-token ID`.
    """
    from app.services.bulk_import import import_companies as run_import

    if not file.exists():
        _fail(f"no file at {file}")
    with session_scope() as session:
        report = run_import(session, file, progress=sys.stderr.isatty())
        if not report.ok:
            session.rollback()
            for problem in report.problems[:50]:
                typer.echo(problem, err=True)
            more = len(report.problems) - 50
            not_shown = f", {more} more not shown" if more > 0 else ""
            _fail(f"nothing imported: {len(report.problems)} problem(s){not_shown}")
    typer.echo(f"imported {report.created} companies")
    if index:
        reindex(fresh=False)


companies_app = typer.Typer(help="Company profiles.", no_args_is_help=True)
app.add_typer(companies_app, name="companies")


@companies_app.command("edit-token")
def companies_edit_token(company_id: Annotated[int, typer.Argument(help="The company's id")]) -> None:
    """Issue a new edit token for a company (the old one stops working); printed once as the last line."""
    from app.services import companies as company_service

    try:
        with session_scope() as session:
            company = company_service.get(session=session, company_id=company_id)
            token = company_service.issue_edit_token(session=session, company=company, actor="cli")
    except KoppelkansError as error:
        _fail(error.detail)
    typer.echo(f"new edit token for company {company_id} (shown once):", err=True)
    typer.echo(token)


@app.command("weekly-list")
def weekly_list(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W48; default: the current week")] = None,
    workers: Annotated[int, typer.Option(min=0, max=64, help="processes that score the list (0: one per core)")] = 0,
) -> None:
    """Build and store the week's match list (per need its top companies, per company its top needs).

    Run it from cron or a systemd timer once a week; building a week that exists changes nothing.
    """
    from sqlmodel import Session

    from app.core.db import get_engine
    from app.services import match_lists
    from app.services.matchable import documents_from_database
    from app.services.matching import build_engine

    chosen = week or match_lists.current_week()
    try:
        match_lists.check_week(chosen)
    except KoppelkansError as error:
        _fail(error.detail)
    engine = build_engine(get_settings())
    with Session(get_engine()) as session:
        engine.load_or_build(lambda side: documents_from_database(session, side))
        match_list, built = match_lists.build(session, engine, chosen, workers=workers or os.cpu_count() or 1)
        session.commit()
        lines = len(json.loads(match_list.content)["lines"])
    engine.close()
    typer.echo(f"week {chosen}: {'built' if built else 'already built, unchanged'} ({lines} lines)")


@app.command("remind-stale")
def remind_stale() -> None:
    """Queue one reminder, with a new edit link, to every active profile not updated for a year that
    had none since its last update; `koppelkans mail send` (or the web app) sends them.

    Run it from cron, e.g. daily; a second run the same day queues nothing.
    """
    from app.services import freshness

    with session_scope() as session:
        queued = freshness.send_reminders(session)
    typer.echo(f"reminders queued: {queued}")


mail_app = typer.Typer(help="Queued e-mail.", no_args_is_help=True)
app.add_typer(mail_app, name="mail")


@mail_app.command("send")
def mail_send() -> None:
    """Send every queued message that is due (SMTP with KOPPELKANS_SMTP_URL, else .eml files in the
    outbox folder); failed tries wait and are retried by a later run. Run it from cron when no web
    app runs, or after a job that queued mail."""
    from app.services import mail

    report = mail.send_due()
    typer.echo(f"mail: {report}")
    if report.given_up:
        raise typer.Exit(code=1)


def _safe_url() -> str:
    url = get_settings().resolved_database_url
    if "@" in url:  # hide credentials
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    app()
