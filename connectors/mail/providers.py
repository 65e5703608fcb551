"""Mail providers people have, and what it takes to read them over IMAP (as of 2026).

``provider = "gmail"`` on an ``imap`` connector fills host, port, security, auth, folders and the
OAuth endpoints; every one of them can still be set by hand. Folders are named by their
SPECIAL-USE flag (RFC 6154), ``\\Sent``, because their names depend on the account's language
(Gmail's "[Gmail]/Sent Mail" is "[Google Mail]/Gesendet" in German).

- Outlook.com / Hotmail / Live: OAuth2 only since 16 September 2024 (basic auth and app
  passwords answer "NO Basic authentication is disabled"). Microsoft 365: OAuth2 only.
- Gmail: OAuth2, or an app password where the account allows one (2-Step Verification on; not
  with Advanced Protection, and not on many Workspace accounts).
- iCloud, Fastmail, Yahoo: app passwords (their OAuth is for registered partners only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GOOGLE_AUTHORIZE", "GOOGLE_TOKEN", "PROVIDERS", "Provider", "ProviderName", "microsoft_endpoints"]

ProviderName = Literal["gmail", "outlook", "office365", "icloud", "fastmail", "yahoo"]

GOOGLE_SCOPES = ("https://mail.google.com/",)
# .default does not work for personal accounts; offline_access is what brings a refresh token
MICROSOFT_SCOPES = ("https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access")


@dataclass(frozen=True)
class Provider:
    label: str
    host: str
    auth: Literal["password", "xoauth2"]
    password_ok: bool = True  # False: the provider refuses passwords, app passwords included
    app_password_page: str | None = None  # where an app password is made
    oauth: Literal["google", "microsoft"] | None = None
    tenant: str | None = None  # Microsoft: consumers | organizations | a tenant id
    folders: tuple[str, ...] = ("INBOX", "\\Sent")
    port: int = 993
    security: Literal["ssl"] = "ssl"


PROVIDERS: dict[str, Provider] = {
    "gmail": Provider("Gmail", "imap.gmail.com", "xoauth2", oauth="google",
                      app_password_page="https://myaccount.google.com/apppasswords"),
    "outlook": Provider("Outlook.com", "outlook.office365.com", "xoauth2", password_ok=False, oauth="microsoft",
                        tenant="consumers"),
    "office365": Provider("Microsoft 365", "outlook.office365.com", "xoauth2", password_ok=False,
                          oauth="microsoft", tenant="organizations"),
    "icloud": Provider("iCloud Mail", "imap.mail.me.com", "password",
                       app_password_page="https://account.apple.com (Sign-In and Security -> App-Specific Passwords; "
                                         "two-factor authentication must be on)"),
    "fastmail": Provider("Fastmail", "imap.fastmail.com", "password",
                         app_password_page="https://app.fastmail.com/settings (Privacy & Security -> Manage app "
                                           "passwords; Basic plans have no IMAP)"),
    "yahoo": Provider("Yahoo Mail", "imap.mail.yahoo.com", "password",
                      app_password_page="https://login.yahoo.com/account/security (External connections -> "
                                        "Create app password)"),
}

GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
# without both, Google sends no refresh token after the first consent (and the bridge could not stay signed in)
GOOGLE_AUTHORIZE_PARAMS = (("access_type", "offline"), ("prompt", "consent"))


def microsoft_endpoints(tenant: str) -> tuple[str, str]:
    """(device authorization, token) endpoints of the Microsoft identity platform for ``tenant``."""
    base = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
    return f"{base}/devicecode", f"{base}/token"
