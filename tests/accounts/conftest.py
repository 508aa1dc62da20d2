from tests.accounts.support import accounts_api

__all__ = ["accounts_api"]
