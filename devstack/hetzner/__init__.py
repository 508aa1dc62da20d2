"""A local Hetzner Cloud API that the official ``hcloud`` client cannot tell from the real one.

Run it with ``python -m devstack.hetzner``. Created servers are real enough to drive: each
gets its own loopback address with a real ``sshd`` and a tenant stack health listener, so
the product's provisioning workflows run end to end without a cloud account.
"""
