"""jpkisim: a simulated My Number Card (JPKI application), its vpcd link to pcscd, and a test PKI."""
