-- Knowledge bases: documents (their extracted text kept until and after indexing, so a restart or a model change re-indexes without the upload) and their chunks with one embedding each (f32 little-endian).
CREATE TABLE knowledge_bases (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE kb_documents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    knowledge_base_id BIGINT NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    body TEXT,
    status TEXT NOT NULL,
    error TEXT,
    chunks_total BIGINT NOT NULL DEFAULT 0,
    chunks_done BIGINT NOT NULL DEFAULT 0,
    model TEXT,
    claimed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX kb_documents_by_base ON kb_documents (knowledge_base_id, id);
CREATE INDEX kb_documents_by_status ON kb_documents (status, id);

CREATE TABLE kb_chunks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id BIGINT NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
    knowledge_base_id BIGINT NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    start_byte BIGINT NOT NULL,
    end_byte BIGINT NOT NULL,
    text TEXT NOT NULL,
    model TEXT NOT NULL,
    embedding BYTEA NOT NULL
);
CREATE INDEX kb_chunks_by_base ON kb_chunks (knowledge_base_id, id);
CREATE INDEX kb_chunks_by_document ON kb_chunks (document_id);
