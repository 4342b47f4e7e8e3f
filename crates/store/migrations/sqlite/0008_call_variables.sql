-- A call's own template variables (a call placed on demand with POST /api/v1/calls); campaign calls take theirs from the contact.
ALTER TABLE calls ADD COLUMN variables TEXT;
