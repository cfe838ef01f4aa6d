// Map helpers (filled in next).
