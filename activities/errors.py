"""SDK errors translated into ours, at one place per integration.

An error no retry can fix becomes a non-retryable `ApplicationError` with a type from
`ErrorType`; anything transient is re-raised retryable so Temporal's policy retries it.
"""

from __future__ import annotations

import botocore.exceptions
import stripe
from hcloud import APIException
from temporalio.exceptions import ApplicationError

from tenantry.contracts.common import ErrorType

# Hetzner codes that a retry can fix (documented in the Hetzner Cloud API reference).
_HETZNER_TRANSIENT = {
    "conflict",
    "locked",
    "rate_limit_exceeded",
    "resource_unavailable",
    "server_error",
    "service_error",
    "timeout",
    "unavailable",
    "maintenance",
    "robot_unavailable",
}


def from_hetzner(exc: APIException, doing: str) -> ApplicationError:
    code = str(exc.code)
    message = f"Hetzner refused to {doing}: {code}: {exc.message}"
    if code == "not_found":
        return ApplicationError(message, type=ErrorType.NOT_FOUND, non_retryable=True)
    if code in _HETZNER_TRANSIENT:
        return ApplicationError(message, type="HetznerTransient")
    return ApplicationError(message, type=ErrorType.PROVIDER_REJECTED, non_retryable=True)


def from_stripe(exc: stripe.StripeError, doing: str) -> ApplicationError:
    message = f"Stripe refused to {doing}: {exc.code or type(exc).__name__}: {exc.user_message}"
    if isinstance(exc, stripe.CardError):
        return ApplicationError(message, type=ErrorType.PAYMENT_DECLINED, non_retryable=True)
    if isinstance(exc, stripe.InvalidRequestError | stripe.AuthenticationError):
        if exc.http_status == 404:
            return ApplicationError(message, type=ErrorType.NOT_FOUND, non_retryable=True)
        if exc.http_status in (400, 401, 402, 403):
            return ApplicationError(message, type=ErrorType.PROVIDER_REJECTED, non_retryable=True)
    return ApplicationError(message, type="StripeTransient")


def from_aws(exc: botocore.exceptions.ClientError, doing: str) -> ApplicationError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = f"AWS refused to {doing}: {code}: {error.get('Message', '')}"
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
    if code in ("Throttling", "ThrottlingException", "PriorRequestNotComplete") or status >= 500:
        return ApplicationError(message, type="AwsTransient")
    return ApplicationError(message, type=ErrorType.PROVIDER_REJECTED, non_retryable=True)
