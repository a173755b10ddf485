"""jpkisim: a simulated My Number Card, its vpcd link to pcscd, and a test JPKI PKI."""
