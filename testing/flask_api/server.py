"""Reference implementation of the Flask API that symbiote-auth signs in to.

Real Flask-Security-Too sign-in, sessions and CSRF (see accounts.py) and real JWTs (PyJWT +
cryptography), as
described in docs/API.md ("The Flask API it talks to"), plus a test-only control surface under
/__control/ that lets tests count requests, inject faults, rotate keys, shift the
clock and mint hostile tokens. Everything lives in memory and dies with the process.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Blueprint, Flask, Response, jsonify, request
from flask_security import auth_required
from jwt import PyJWS
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import PyJWTError
from werkzeug.http import http_date
from werkzeug.serving import WSGIRequestHandler

from .accounts import DEMO_USER_ID, Accounts, describe

DEFAULT_ISSUER = "symbiote-reference"
DEFAULT_AUDIENCE = "symbiote-desktop"
DEFAULT_LIFETIME_SECONDS = 900
SIGNING_ALGORITHMS = ("RS256", "ES256")
# The longest a `hang` fault holds a request open; shutdown or clearing faults ends it sooner.
HANG_LIMIT_SECONDS = 120.0

# (Flask view name, method) -> counter name. Only these requests are counted and can be
# faulted. Flask-Security's login view answers GET with the CSRF token.
COUNTED_VIEWS = {
    ("security.login", "GET"): "csrf",
    ("security.login", "POST"): "login",
    ("api.user_status", "GET"): "status",
    ("api.jwt_token", "POST"): "token",
    ("api.jwt_refresh", "POST"): "refresh",
    ("api.jwks", "GET"): "jwks",
    ("security.logout", "POST"): "logout",
    ("api.mcp_tool", "GET"): "app",
    ("api.mcp_tool", "POST"): "app",
}
COUNTER_NAMES = tuple(COUNTED_VIEWS.values())


# ---------------------------------------------------------------------------- keys


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(value: int, length: int | None = None) -> str:
    length = length or (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(length, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str  # "RS256" | "ES256"
    private_key: Any

    @classmethod
    def generate(cls, alg: str) -> SigningKey:
        if alg == "RS256":
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            prefix = "rsa"
        elif alg == "ES256":
            private_key = ec.generate_private_key(ec.SECP256R1())
            prefix = "ec"
        else:
            raise ValueError(f"unsupported signing algorithm {alg!r}")
        return cls(kid=f"{prefix}-{secrets.token_hex(8)}", alg=alg, private_key=private_key)

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_jwk(self) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        if self.alg == "RS256":
            return {
                "kty": "RSA",
                "kid": self.kid,
                "use": "sig",
                "alg": "RS256",
                "n": b64url_uint(numbers.n),
                "e": b64url_uint(numbers.e),
            }
        return {
            "kty": "EC",
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
            "crv": "P-256",
            "x": b64url_uint(numbers.x, 32),
            "y": b64url_uint(numbers.y, 32),
        }


class KeyRing:
    """The current key per algorithm plus old keys retained by rotation.

    The startup keys are remembered so that a reset puts the JWKS back exactly as it
    was, whatever earlier tests rotated.
    """

    def __init__(self) -> None:
        self._startup = {alg: SigningKey.generate(alg) for alg in SIGNING_ALGORITHMS}
        self.restore_startup_keys()

    def restore_startup_keys(self) -> None:
        self.current: dict[str, SigningKey] = dict(self._startup)
        self.published: list[SigningKey] = list(self._startup.values())

    def rotate(self, alg: str, keep_old: bool) -> SigningKey:
        new_key = SigningKey.generate(alg)
        if not keep_old:
            self.published = [key for key in self.published if key.alg != alg]
        self.published.append(new_key)
        self.current[alg] = new_key
        return new_key

    def find(self, kid: Any) -> SigningKey | None:
        return next((key for key in self.published if key.kid == kid), None)


def encode_jwt(header: dict[str, Any], claims: dict[str, Any], alg: str, key: Any) -> str:
    """Compact JWS, assembled here so tests can mint any header/claims combination.

    RS256/ES256 signatures come from PyJWT's algorithm objects (ES256 in the JWS raw
    r||s form). HS256 is computed directly because PyJWT rightly refuses a PEM public
    key as an HMAC secret, which is exactly the algorithm-confusion token tests need.
    """
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    ).encode("ascii")
    if alg == "none":
        signature = b""
    elif alg == "HS256":
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    else:
        signature = get_default_algorithms()[alg].sign(signing_input, key)
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"


# ----------------------------------------------------------------- state and faults


@dataclass
class Config:
    lifetime: int = DEFAULT_LIFETIME_SECONDS
    clock_offset: float = 0
    algorithm: str = "RS256"
    csrf: bool = False
    csrf_time_limit: int = 3600
    login_returns_user: bool = True
    issuer: str = DEFAULT_ISSUER
    audience: str | list[str] = DEFAULT_AUDIENCE


@dataclass
class Fault:
    status: int | None = None
    body: Any = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_ms: int = 0
    hang: bool = False
    remaining: int = 1  # -1: until cleared

    def response(self) -> Response:
        if self.body is None:
            body, content_type = json.dumps({"error": "injected fault"}), "application/json"
        elif isinstance(self.body, str):
            body, content_type = self.body, "text/plain; charset=utf-8"
        else:
            body, content_type = json.dumps(self.body), "application/json"
        response = Response(body, status=self.status, content_type=self.content_type or content_type)
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


class ControlError(Exception):
    """A malformed /__control/ request: answered 400 so a typo in a test fails loudly."""


class ReferenceState:
    def __init__(self, app: Flask, csrf: bool = False) -> None:
        self.lock = threading.RLock()
        self.app = app
        self.accounts = Accounts(app, self.lock)
        self.startup_csrf = csrf
        self.keys = KeyRing()
        self.shutting_down = threading.Event()
        # Hanging requests wait on the event current when they started; clearing faults
        # sets it (releasing them) and installs a fresh one.
        self._hang_release = threading.Event()
        self.reset(sessions=False)

    def now(self) -> float:
        return time.time() + self.config.clock_offset

    def reset(self, sessions: bool) -> None:
        with self.lock:
            self.config = Config(csrf=self.startup_csrf)
            self.counters = dict.fromkeys(COUNTER_NAMES, 0)
            self.clear_faults()
            self.jwks_override: tuple[int, Any] | None = None
            self.keys.restore_startup_keys()
            self.apply_csrf_settings()
        if sessions:
            self.accounts.expire_all()

    def apply_csrf_settings(self) -> None:
        """Flask-WTF reads both settings from the app config at every request."""
        self.app.config["WTF_CSRF_ENABLED"] = self.config.csrf
        self.app.config["WTF_CSRF_TIME_LIMIT"] = self.config.csrf_time_limit

    def clear_faults(self) -> None:
        with self.lock:
            self.faults: dict[str, list[Fault]] = {name: [] for name in COUNTER_NAMES}
            self._hang_release.set()
            self._hang_release = threading.Event()

    def shutdown(self) -> None:
        self.shutting_down.set()
        with self.lock:
            self._hang_release.set()

    def count_request(self, counter: str) -> tuple[Fault | None, threading.Event]:
        """Counts one request and takes the next queued fault for that endpoint, if any."""
        with self.lock:
            self.counters[counter] += 1
            queue = self.faults[counter]
            fault = queue[0] if queue else None
            if fault is not None and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    queue.pop(0)
            return fault, self._hang_release

    def apply_fault(self, fault: Fault, hang_release: threading.Event) -> Response | None:
        """Waits as the fault says; returns its response, or None to run the real handler."""
        if fault.hang:
            if not self.shutting_down.is_set():
                hang_release.wait(HANG_LIMIT_SECONDS)
        elif fault.delay_ms:
            self.shutting_down.wait(fault.delay_ms / 1000)
        return fault.response() if fault.status is not None else None

    def default_claims(self, user: dict[str, Any], lifetime: int) -> dict[str, Any]:
        """Claims for a user as Flask-Security describes it (its security payload)."""
        issued_at = int(self.now())
        return {
            "sub": user["id"],
            "email": user["email"],
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + lifetime,
            "iss": self.config.issuer,
            "aud": copy.deepcopy(self.config.audience),
            "jti": secrets.token_urlsafe(16),
        }

    def mint_token(self, user: dict[str, Any]) -> str:
        with self.lock:
            key = self.keys.current[self.config.algorithm]
            claims = self.default_claims(user, self.config.lifetime)
        return encode_jwt({"alg": key.alg, "kid": key.kid, "typ": "JWT"}, claims, key.alg, key.private_key)

    def jwks(self) -> dict[str, Any]:
        with self.lock:
            return {"keys": [key.public_jwk() for key in self.keys.published]}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "live_sessions": len(self.accounts.live_sids),
                "kids": [key.kid for key in self.keys.published],
                "current_kids": {alg: key.kid for alg, key in self.keys.current.items()},
                "algorithm": self.config.algorithm,
                "lifetime": self.config.lifetime,
            }


# ------------------------------------------------------------------ request parsing


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def control_body(allowed: set[str]) -> dict[str, Any]:
    body = request.get_json(force=True, silent=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise ControlError(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return body


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ControlError(message)


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


# ------------------------------------------------------------------------------ app


def create_app(csrf: bool = False) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secrets.token_bytes(32)
    state = ReferenceState(app, csrf=csrf)
    app.extensions["symbiote_reference"] = state
    app.register_blueprint(api_blueprint(state))
    app.register_blueprint(control_blueprint(state))
    return app


def request_handler_for(app: Flask) -> type[WSGIRequestHandler]:
    """A request handler whose Date header follows the server's shifted clock and
    which logs no requests (request lines could carry secrets in query strings)."""
    state: ReferenceState = app.extensions["symbiote_reference"]

    class ReferenceRequestHandler(WSGIRequestHandler):
        def date_time_string(self, timestamp: float | None = None) -> str:
            return http_date(state.now() if timestamp is None else timestamp)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    return ReferenceRequestHandler


def api_blueprint(state: ReferenceState) -> Blueprint:
    api = Blueprint("api", __name__)

    @api.before_app_request
    def count_and_fault() -> Response | None:
        counter = COUNTED_VIEWS.get((request.endpoint or "", request.method))
        if counter is None:
            return None
        fault, hang_release = state.count_request(counter)
        if fault is None:
            return None
        return state.apply_fault(fault, hang_release)

    @api.get("/api/user/status")
    def user_status() -> Response:
        user = state.accounts.signed_in_user()
        if user is None:
            return jsonify(authenticated=False)
        return jsonify(authenticated=True, user=describe(user))

    # Both JWT views are guarded like the host's: a session login (Flask-Security answers
    # 401 without one) and, when CSRF is on, a valid X-CSRF-Token.
    def token_response() -> tuple[Response, int]:
        user = describe(state.accounts.signed_in_user())
        with state.lock:
            lifetime = state.config.lifetime
            token = state.mint_token(user)
        return jsonify(access_token=token, token_type="Bearer", expires_in=lifetime), 200

    @api.post("/api/jwt/token")
    @auth_required("session")
    def jwt_token() -> tuple[Response, int]:
        return token_response()

    @api.post("/api/jwt/refresh")
    @auth_required("session")
    def jwt_refresh() -> tuple[Response, int]:
        user_id = describe(state.accounts.signed_in_user())["id"]
        token = bearer_token()
        if token is None:
            return jsonify(error="Missing bearer token"), 401
        # Only the signature is checked (an expired token may be refreshed), with the
        # algorithm of the key its kid names, so alg=none and HS256 tokens fail here.
        try:
            kid = PyJWS().get_unverified_header(token).get("kid")
            with state.lock:
                key = state.keys.find(kid)
            if key is None:
                return jsonify(error="Unknown signing key"), 401
            claims = json.loads(PyJWS().decode(token, key.public_key, algorithms=[key.alg]))
        except (PyJWTError, ValueError):
            return jsonify(error="Invalid bearer token"), 401
        if not isinstance(claims, dict) or claims.get("sub") != user_id:
            return jsonify(error="Bearer token belongs to another user"), 401
        return token_response()

    # The app's own session-authenticated API, as the host's SymbioteApiService calls it
    # (`/api/mcp/tools/cherry-studio-agent`): a list of configurations for the signed-in
    # user. POST echoes its JSON body, and is CSRF-checked when CSRF is on.
    @api.route("/api/mcp/tools/<name>", methods=["GET", "POST"])
    @auth_required("session")
    def mcp_tool(name: str) -> Response:
        user = describe(state.accounts.signed_in_user())
        if request.method == "POST":
            return jsonify(name=name, user=user["email"], received=request.get_json(silent=True))
        return jsonify([{"emoji": "🤖", "name": name, "prompt": f"You help {user['email']}.", "type": "agent"}])

    # Test helpers for apiFetch: a redirect anywhere, and an answer of a chosen size.
    @api.get("/api/redirect")
    def redirect_to() -> Response:
        return Response(status=302, headers={"Location": request.args.get("to", "/")})

    @api.get("/api/bytes/<int:size>")
    def sized(size: int) -> Response:
        return Response(b"x" * min(size, 4 * 1024 * 1024), content_type="application/octet-stream")

    @api.get("/api/jwt/jwks")
    def jwks() -> Response | tuple[Response, int]:
        with state.lock:
            override = state.jwks_override
        if override is None:
            return jsonify(state.jwks())
        status, body = override
        if isinstance(body, str):
            return Response(body, status=status, content_type="application/json")
        return jsonify(body), status

    return api


def control_blueprint(state: ReferenceState) -> Blueprint:
    control = Blueprint("control", __name__, url_prefix="/__control")

    @control.errorhandler(ControlError)
    def bad_control_request(error: ControlError) -> tuple[Response, int]:
        return jsonify(error=str(error)), 400

    def config_json() -> dict[str, Any]:
        return asdict(state.config)

    @control.get("/counters")
    def counters() -> Response:
        with state.lock:
            return jsonify(state.counters)

    @control.post("/reset")
    def reset() -> Response:
        body = control_body({"sessions"})
        require(isinstance(body.get("sessions", False), bool), "sessions must be a boolean")
        state.reset(sessions=body.get("sessions", False))
        return jsonify(config_json())

    @control.post("/config")
    def config() -> Response:
        body = control_body(
            {"lifetime", "clock_offset", "algorithm", "csrf", "csrf_time_limit", "login_returns_user", "issuer", "audience"}
        )
        if "lifetime" in body:
            require(is_int(body["lifetime"]), "lifetime must be an integer number of seconds")
        if "clock_offset" in body:
            require(is_number(body["clock_offset"]), "clock_offset must be a number of seconds")
        if "algorithm" in body:
            require(body["algorithm"] in SIGNING_ALGORITHMS, f"algorithm must be one of {SIGNING_ALGORITHMS}")
        for flag in ("csrf", "login_returns_user"):
            if flag in body:
                require(isinstance(body[flag], bool), f"{flag} must be a boolean")
        if "csrf_time_limit" in body:
            require(is_int(body["csrf_time_limit"]) and body["csrf_time_limit"] > 0, "csrf_time_limit must be a positive integer")
        if "issuer" in body:
            require(isinstance(body["issuer"], str), "issuer must be a string")
        if "audience" in body:
            audience = body["audience"]
            require(
                isinstance(audience, str)
                or (isinstance(audience, list) and all(isinstance(a, str) for a in audience)),
                "audience must be a string or a list of strings",
            )
        with state.lock:
            for name, value in body.items():
                setattr(state.config, name, value)
            state.apply_csrf_settings()
            return jsonify(config_json())

    @control.post("/rotate")
    def rotate() -> Response:
        body = control_body({"keep_old", "algorithm"})
        keep_old = body.get("keep_old", True)
        require(isinstance(keep_old, bool), "keep_old must be a boolean")
        with state.lock:
            alg = body.get("algorithm", state.config.algorithm)
            require(alg in SIGNING_ALGORITHMS, f"algorithm must be one of {SIGNING_ALGORITHMS}")
            return jsonify(kid=state.keys.rotate(alg, keep_old).kid)

    @control.post("/expire_sessions")
    def expire_sessions() -> Response:
        return jsonify(expired=state.accounts.expire_all())

    @control.post("/fault")
    def fault() -> Response:
        body = control_body({"endpoint", "status", "body", "content_type", "headers", "delay_ms", "hang", "count"})
        endpoint = body.get("endpoint")
        require(endpoint in COUNTER_NAMES, f"endpoint must be one of {COUNTER_NAMES}")
        status = body.get("status")
        require(status is None or (is_int(status) and 100 <= status <= 599), "status must be an HTTP status code")
        content_type = body.get("content_type")
        require(content_type is None or isinstance(content_type, str), "content_type must be a string")
        headers = body.get("headers") or {}
        require(
            isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values()),
            "headers must be an object of strings",
        )
        delay_ms = body.get("delay_ms", 0)
        require(is_int(delay_ms) and delay_ms >= 0, "delay_ms must be a non-negative integer")
        hang = body.get("hang", False)
        require(isinstance(hang, bool), "hang must be a boolean")
        count = body.get("count", 1)
        require(is_int(count) and (count >= 1 or count == -1), "count must be >= 1, or -1 for until cleared")
        queued = Fault(status, body.get("body"), content_type, headers, delay_ms, hang, count)
        with state.lock:
            state.faults[endpoint].append(queued)
        return jsonify(queued=endpoint)

    @control.post("/clear_faults")
    def clear_faults() -> Response:
        state.clear_faults()
        return jsonify(cleared=True)

    @control.post("/sign")
    def sign() -> Response:
        body = control_body({"claims", "header", "alg", "hs_secret", "kid", "lifetime"})
        claim_overrides = body.get("claims", {})
        require(isinstance(claim_overrides, dict), "claims must be an object")
        extra_header = body.get("header", {})
        require(isinstance(extra_header, dict), "header must be an object")
        demo_user = describe(state.accounts.user_by_id(DEMO_USER_ID))
        with state.lock:
            alg = body.get("alg", state.config.algorithm)
            require(alg in (*SIGNING_ALGORITHMS, "HS256", "none"), "alg must be RS256, ES256, HS256 or none")
            lifetime = body.get("lifetime", state.config.lifetime)
            require(is_int(lifetime), "lifetime must be an integer number of seconds")
            # HS256 and none pretend to come from the real RSA key: that is the attack.
            key = state.keys.current["RS256" if alg in ("HS256", "none") else alg]
            claims = state.default_claims(demo_user, lifetime)
        for name, value in claim_overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        header = {"alg": alg, "kid": body.get("kid", key.kid), "typ": "JWT", **extra_header}
        header = {name: value for name, value in header.items() if value is not None}
        if alg == "HS256":
            hs_secret = body.get("hs_secret", "public_pem")
            require(isinstance(hs_secret, str), "hs_secret must be a string")
            signing_key: Any = key.public_pem() if hs_secret == "public_pem" else hs_secret.encode()
        else:
            signing_key = key.private_key
        return jsonify(token=encode_jwt(header, claims, alg, signing_key))

    @control.post("/jwks")
    def jwks_override() -> Response:
        body = control_body({"body", "status"})
        status = body.get("status", 200)
        require(is_int(status) and 100 <= status <= 599, "status must be an HTTP status code")
        with state.lock:
            state.jwks_override = None if body.get("body") is None else (status, body["body"])
        return jsonify(overridden=state.jwks_override is not None)

    @control.get("/state")
    def reference_state() -> Response:
        return jsonify(state.snapshot())

    return control
