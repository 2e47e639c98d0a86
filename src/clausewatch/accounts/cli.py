"""`clausewatch accounts …`: operators' commands (plans are assigned here; no payments)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

if TYPE_CHECKING:
    from clausewatch.archive.service import Archive
    from clausewatch.storage.models import Account

accounts_app = typer.Typer(
    help="Accounts: create them, list them, set their plan, disable them.", no_args_is_help=True
)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (default ./data or the config).")
]


def _account(archive: Archive, email: str) -> Account:
    from clausewatch.accounts import service
    from clausewatch.cli import fail

    try:
        account = service.find_account(archive, email)
    except service.AccountError as exc:
        raise fail(exc.message) from None
    if account is None:
        raise fail(f"no account for {email}")
    return account


@accounts_app.command("create")
def create(
    email: str,
    plan: Annotated[str, typer.Option(help="free or pro")] = "free",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an account (the password is prompted for, or read from stdin)."""
    from clausewatch.accounts import service
    from clausewatch.cli import fail, open_archive, out

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_archive(data_dir) as archive:
        try:
            account = service.sign_up(archive, email, password, plan)
        except service.AccountError as exc:
            raise fail(exc.message) from None
    out.print(f"account {account.id}: {account.email} ({account.plan})")


@accounts_app.command("list")
def list_accounts(data_dir: DataDir = None) -> None:
    """Every account with its plan and state."""
    from clausewatch.accounts import service
    from clausewatch.cli import open_archive, out

    with open_archive(data_dir) as archive:
        rows = service.list_accounts(archive)
    table = Table("ID", "Email", "Plan", "Created", "State")
    for row in rows:
        table.add_row(
            str(row.id),
            row.email,
            row.plan,
            f"{row.created_at:%Y-%m-%d}",
            "disabled" if row.disabled_at else "active",
        )
    out.print(table)


@accounts_app.command("set-plan")
def set_plan(
    email: str,
    plan: str,
    force: Annotated[
        bool, typer.Option("--force", help="Even when current watches exceed the new plan")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Move an account to another plan (refused when its watches do not fit, unless --force)."""
    from clausewatch.accounts import service
    from clausewatch.cli import fail, open_archive, out

    with open_archive(data_dir) as archive:
        account = _account(archive, email)
        try:
            service.change_plan(archive, account, plan, force=force)
        except service.AccountError as exc:
            raise fail(exc.message) from None
    out.print(f"{email}: plan {plan}")


@accounts_app.command("disable")
def disable(email: str, data_dir: DataDir = None) -> None:
    """Disable an account: it can no longer log in, its sessions and API keys stop working."""
    from clausewatch.accounts import service
    from clausewatch.cli import open_archive, out

    with open_archive(data_dir) as archive:
        service.set_disabled(archive, _account(archive, email), True)
    out.print(f"{email}: disabled")


@accounts_app.command("enable")
def enable(email: str, data_dir: DataDir = None) -> None:
    """Re-enable a disabled account."""
    from clausewatch.accounts import service
    from clausewatch.cli import open_archive, out

    with open_archive(data_dir) as archive:
        service.set_disabled(archive, _account(archive, email), False)
    out.print(f"{email}: enabled")
