"""tenrec diagnose redacts every secret value and whatever looks like a credential."""

from __future__ import annotations

from tenrec.diagnose import redact


def test_secret_values_option_lines_and_url_credentials_are_redacted():
    secrets = {"database_nova_password": "s3cretDBpass", "rabbitmq_password": "rabbitXYZ123"}
    text = (
        "[database]\nconnection = mysql+pymysql://nova:s3cretDBpass@10.0.0.11/nova\n"
        "[DEFAULT]\ntransport_url = rabbit://openstack:rabbitXYZ123@10.0.0.11:5672/\n"
        "[keystone_authtoken]\npassword = somethingElse99\nauth_type = password\n"
        "memcache_secret_key = anotherOne42\n"
        "Dec 06 12:00:01 ctl1 gnocchi-api[42]: url=http://admin:notInSecrets77@10.0.0.11/\n"
    )
    out, count = redact(text, secrets)
    for value in ("s3cretDBpass", "rabbitXYZ123", "somethingElse99", "anotherOne42", "notInSecrets77"):
        assert value not in out
    assert "[REDACTED:database_nova_password]" in out
    assert "auth_type = password" in out  # a value that is no secret stays readable
    assert count >= 5
