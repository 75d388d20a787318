package io.gpucloud.worker.catalog;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * Reads the catalog's data files; comments and notes in them are for people and are ignored, and a
 * number or flag left out of an entry means 0 / false (Jackson 3 would otherwise refuse it).
 */
final class CatalogJson {

    private static final JsonMapper MAPPER = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build();

    private CatalogJson() {
    }

    static <T> T read(InputStream in, Class<T> type) {
        try (in) {
            return MAPPER.readValue(in, type);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static InputStream resource(String name) {
        InputStream in = CatalogJson.class.getResourceAsStream("/catalog/" + name);
        if (in == null) {
            throw new IllegalStateException("catalog data file missing from the classpath: /catalog/" + name);
        }
        return in;
    }
}
