"""rabbitmq_account: the definitions it imports carry a hash RabbitMQ can check, never the password."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "collections"))  # the module imports the collection's module_utils
_spec = importlib.util.spec_from_file_location("rabbitmq_account", REPO / "plugins/modules/rabbitmq_account.py")
assert _spec and _spec.loader
rabbitmq_account = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rabbitmq_account)


def test_the_hash_is_salt_then_sha256_of_salt_and_password():
    salt = bytes.fromhex("908dc60a")
    decoded = base64.b64decode(rabbitmq_account.password_hash("test12", salt))
    assert decoded[:4] == salt
    assert decoded[4:] == hashlib.sha256(salt + b"test12").digest()


def test_definitions_hold_the_user_its_vhost_and_permissions_but_not_the_password():
    definitions = rabbitmq_account.account_definitions("nova", "secret-password", "/nova", ["^nova", ".*", ".*"])
    assert "secret-password" not in json.dumps(definitions)
    (user,) = definitions["users"]
    assert user["name"] == "nova" and user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    assert definitions["vhosts"] == [{"name": "/nova"}]
    assert definitions["permissions"] == [
        {"user": "nova", "vhost": "/nova", "configure": "^nova", "write": ".*", "read": ".*"}
    ]
    # A new salt each time: two runs never write the same hash.
    again = rabbitmq_account.account_definitions("nova", "secret-password", "/nova", [".*", ".*", ".*"])
    assert again["users"][0]["password_hash"] != user["password_hash"]
