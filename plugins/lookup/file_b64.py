"""A file of the deploy host as base64 (binary files: Swift's rings), for service_install's content_b64."""

from __future__ import annotations

DOCUMENTATION = r"""
name: file_b64
short_description: Read files of the deploy host as base64
description:
  - Returns each file's bytes base64-encoded, so that binary files (Swift's gzipped rings)
    travel in a module's arguments; C(ansible.builtin.file) reads text only.
options:
  _terms:
    description: Absolute paths on the deploy host.
    required: true
"""

EXAMPLES = r"""
- name: A ring, for service_install
  ansible.builtin.debug:
    msg: "{{ lookup('tenrec.cloud.file_b64', '/root/.tenrec/swift/object.ring.gz') }}"
"""

RETURN = r"""
_raw:
  description: One base64 string per file.
  type: list
  elements: str
"""

import base64

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        contents = []
        for term in terms:
            try:
                with open(term, "rb") as handle:
                    contents.append(base64.b64encode(handle.read()).decode("ascii"))
            except OSError as error:
                raise AnsibleError(f"cannot read {term} on the deploy host: {error}") from error
        return contents
