"""Sending reminder digests: SMTP (standard library `smtplib` + `email`) and a JSON webhook.

    target = SmtpTarget.parse("smtp://bot:secret@mail.example.com:587?starttls=1&from=leadctl@example.com")
    send_mail(target, "dana@example.com", "leadctl: 3 follow-ups due for dana", body)
    post_json("https://hooks.example.com/leadctl", {"digests": [...]})

SMTP URL: `smtp://[user[:password]@]host[:port][?starttls=1&from=ADDR&to=ADDR&timeout=S]`,
or `smtps://` for TLS from the first byte (port 465). The password may instead come
from LEADCTL_SMTP_PASSWORD (it then never appears on a command line). `to` is where
digests go that have no owner e-mail (the unassigned digest, owners without one).

A webhook URL may carry `user:password@`: they are taken out of the URL and sent as
HTTP Basic auth. Secrets never reach a message: every error names the server by `masked()` /
`mask_url()` (user, password, path and query hidden) and has known secrets blanked.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from .errors import LeadctlError, UsageError

DEFAULT_TIMEOUT = 20.0
DEFAULT_SENDER = "leadctl@localhost"


class NotifyError(LeadctlError):
    """A digest could not be delivered (SMTP or webhook); the message holds no secrets."""


def mask_url(url: str) -> str:
    """`https://user:pw@hooks.example.com/T0/B0/XYZ?token=1` → `https://***@hooks.example.com/…`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<url>"
    who = "***@" if parts.username or parts.password else ""
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{who}{host}{port}{rest}"


def scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s and len(s) >= 3:
            text = text.replace(s, "***")
    return text


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class SmtpTarget:
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    sender: str = DEFAULT_SENDER
    fallback_to: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    url: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str, password: str | None = None) -> "SmtpTarget":
        """Read an smtp:// or smtps:// URL; `password` (or LEADCTL_SMTP_PASSWORD) fills a missing one."""
        try:
            parts = urlsplit(url.strip())
            scheme = parts.scheme.lower()
            host = parts.hostname
            port = parts.port
        except ValueError:
            raise UsageError(f"not an SMTP URL: {mask_url(url)}",
                             hint="use smtp://[user:pass@]host:port[?starttls=1]", option="--smtp") from None
        if scheme not in ("smtp", "smtps") or not host:
            raise UsageError(f"not an SMTP URL: {mask_url(url)}",
                             hint="use smtp://[user:pass@]host:port[?starttls=1]", option="--smtp")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(q) - {"starttls", "from", "to", "timeout"}
        if unknown:
            raise UsageError(f"unknown option '{sorted(unknown)[0]}' (allowed: starttls, from, to, timeout)",
                             option="--smtp")
        try:
            timeout = float(q.get("timeout") or DEFAULT_TIMEOUT)
        except ValueError:
            raise UsageError("timeout must be a number of seconds", option="--smtp") from None
        secret = unquote(parts.password) if parts.password else (password or os.environ.get("LEADCTL_SMTP_PASSWORD"))
        return cls(host=host, port=port or (465 if scheme == "smtps" else 25),
                   user=unquote(parts.username) if parts.username else None, password=secret or None,
                   starttls=_flag(q.get("starttls")), ssl=scheme == "smtps",
                   sender=q.get("from") or os.environ.get("LEADCTL_SMTP_FROM") or DEFAULT_SENDER,
                   fallback_to=q.get("to") or os.environ.get("LEADCTL_SMTP_TO") or None,
                   timeout=timeout, url=url)

    def masked(self) -> str:
        who = "***@" if self.user or self.password else ""
        return f"{'smtps' if self.ssl else 'smtp'}://{who}{self.host}:{self.port}"

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.url) if s]


def send_mail(target: SmtpTarget, to: str, subject: str, body: str) -> None:
    """Send one plain-text e-mail; raise NotifyError (masked) on any failure."""
    import smtplib
    import ssl as _ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["From"] = target.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="leadctl")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    try:
        if target.ssl:
            client = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout,
                                      context=_ssl.create_default_context())
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
        with client:
            if target.starttls:
                client.starttls(context=_ssl.create_default_context())
            if target.user:
                client.login(target.user, target.password or "")
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", target.secrets())
        raise NotifyError(f"cannot send e-mail to {to} via {target.masked()}: {detail}") from None


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`https://bot:pw@host/x` → (`https://host/x`, "bot", "pw"): credentials out of the URL."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return url, None, None
    if user is None and password is None:
        return url, None, None
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, unquote(user or ""), unquote(password) if password is not None else None


def post_json(url: str, document: dict, timeout: float = DEFAULT_TIMEOUT) -> None:
    """POST `document` as JSON; a non-2xx answer or a network error raises NotifyError (masked).

    Credentials in the URL (`https://user:pass@host/…`) are sent as HTTP Basic auth.
    """
    import base64
    import json
    import urllib.error
    import urllib.request

    bare, user, password = split_credentials(url)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "leadctl"}
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    secrets = [s for s in (url, bare, password, user) if s]
    data = json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")
    try:
        req = urllib.request.Request(bare, data=data, method="POST", headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the user's own URL
            resp.read()
    except urllib.error.HTTPError as exc:
        hint = " (check the user and password in the URL)" if exc.code in (401, 403) and user is not None else ""
        raise NotifyError(f"webhook {mask_url(url)} answered HTTP {exc.code}{hint}") from None
    except (OSError, ValueError) as exc:
        detail = scrub(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}", secrets)
        raise NotifyError(f"cannot reach webhook {mask_url(url)}: {detail}") from None
