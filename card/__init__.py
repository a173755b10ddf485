"""Driver for the JPKI application of a My Number Card, over one narrow APDU seam.

Layers, bottom up: `apdu` (bytes and status words), `connection` (the seam: PC/SC or any
callable), `jpki` (the card application's commands, status words turned into domain
errors), `token` (a signing token: certificate + sign a DigestInfo, from the card or from
PKCS#11), `cms` (a detached CMS SignedData from a token), `certificate` (what a JPKI
signing certificate says about its holder).
"""
