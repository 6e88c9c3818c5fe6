"""Sign-in through real Flask-Security-Too, configured the way the host's backend is.

Flask-Security owns the users, the session, `POST /api/login`, `GET /api/login` (the CSRF
token), `POST /api/logout`, and CSRF (Flask-WTF): `WTF_CSRF_CHECK_DEFAULT = False` with
`SECURITY_CSRF_PROTECT_MECHANISMS = ["session", "basic"]`, so CSRF is checked on Flask-Security's
own forms and on every view guarded by `@auth_required("session")`.

What this module adds is only what the tests need and Flask-Security has no switch for:
logins that the server can revoke (a random `sid` in the Flask session, kept in a
server-side set), so that `expire_sessions` and a replayed cookie after logout behave like a
server-side session store.
"""

from __future__ import annotations

import secrets
import tempfile
from typing import Any

from flask import Flask, current_app, g, session
from flask_login import user_loaded_from_cookie, user_logged_out
from flask_security import Security, SQLAlchemyUserDatastore, current_user
from flask_security.models import fsqla_v3 as fsqla
from flask_security.signals import user_authenticated
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

# (email, password, display name, roles). The ids follow the order: 1, 2.
USERS = (
    ("demo@example.com", "demo-password", "Demo User", ("user",)),
    ("admin@example.com", "admin-password", "Admin User", ("admin", "user")),
)
DEMO_USER_ID = "1"

SECURITY_SETTINGS = {
    "SECURITY_URL_PREFIX": "/api",
    "SECURITY_PASSWORD_SALT": None,  # set per process in init_accounts
    # A test server: hashing cost would only slow the tests; Flask-Security compares it the same way.
    "SECURITY_PASSWORD_HASH": "plaintext",
    "WTF_CSRF_CHECK_DEFAULT": False,
    "SECURITY_CSRF_PROTECT_MECHANISMS": ["session", "basic"],
    "SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS": False,
    "WTF_CSRF_ENABLED": False,  # the `csrf` switch of /__control/config turns it on
    "WTF_CSRF_TIME_LIMIT": 3600,  # Flask-WTF's default; `csrf_time_limit` changes it
    "SECURITY_FLASH_MESSAGES": False,
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}


class Accounts:
    """The datastore and the set of live logins."""

    def __init__(self, app: Flask, lock: Any) -> None:
        self.lock = lock
        self.live_sids: set[str] = set()
        # A file, not ":memory:": the threaded server gives every request thread its own
        # connection, which an in-memory database cannot share.
        self._db_dir = tempfile.TemporaryDirectory(prefix="symbiote-reference-")
        app.config.update(SECURITY_SETTINGS)
        app.config["SECURITY_PASSWORD_SALT"] = secrets.token_hex(16)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{self._db_dir.name}/users.db"
        self.db = db = SQLAlchemy(app)
        fsqla.FsModels.set_db_info(db)

        class Role(db.Model, fsqla.FsRoleMixin):  # type: ignore[name-defined]
            __tablename__ = "role"

        class User(db.Model, fsqla.FsUserMixin):  # type: ignore[name-defined]
            __tablename__ = "user"
            display_name = db.Column(db.String(255))

            def get_security_payload(self) -> dict[str, Any]:
                # What Flask-Security puts under response.user in its JSON answers; the
                # `login_returns_user` control leaves it empty, as in Flask-Security's default.
                return describe(self) if self.payload_enabled() else {}

            @staticmethod
            def payload_enabled() -> bool:
                return current_app.extensions["symbiote_reference"].config.login_returns_user

        self.datastore = SQLAlchemyUserDatastore(db, User, Role)
        CSRFProtect(app)
        Security(app, self.datastore)
        with app.app_context():
            db.create_all()
            for email, password, display_name, roles in USERS:
                for role in roles:
                    self.datastore.find_or_create_role(name=role)
                self.datastore.create_user(email=email, password=password, display_name=display_name, roles=list(roles))
            db.session.commit()

        user_authenticated.connect(self._start_login, app)
        user_loaded_from_cookie.connect(self._start_login, app)
        user_logged_out.connect(self._end_login, app)
        app.before_request(self._drop_revoked_login)

    def _start_login(self, *_: Any, **__: Any) -> None:
        sid = secrets.token_urlsafe(24)
        with self.lock:
            self.live_sids.discard(session.get("sid"))
            self.live_sids.add(sid)
        session["sid"] = sid

    def _end_login(self, *_: Any, **__: Any) -> None:
        with self.lock:
            self.live_sids.discard(session.pop("sid", None))

    def _drop_revoked_login(self) -> None:
        """A session cookie whose login was revoked (logout, expire_sessions) is anonymous."""
        sid = session.get("sid")
        with self.lock:
            revoked = sid is not None and sid not in self.live_sids
        if revoked:
            session.clear()
            g.pop("_login_user", None)

    def signed_in_user(self) -> Any | None:
        return current_user if current_user.is_authenticated else None

    def user_by_id(self, user_id: str) -> Any | None:
        return self.datastore.find_user(id=int(user_id))

    def expire_all(self) -> int:
        """Ends every login, remember-me cookies included (a new fs_uniquifier voids them)."""
        with self.lock:
            expired = len(self.live_sids)
            self.live_sids.clear()
        for user in self.datastore.user_model.query.all():
            self.datastore.set_uniquifier(user)
        self.db.session.commit()
        return expired



def describe(user: Any) -> dict[str, Any]:
    """A user as the API describes it: `{id, email, display_name, roles}`."""
    return {
        "id": str(user.id),
        "email": user.email,
        "display_name": user.display_name,
        "roles": sorted(role.name for role in user.roles),
    }
