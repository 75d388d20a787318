package io.gpucloud.controlplane.web;

import org.springframework.boot.http.converter.autoconfigure.ServerHttpMessageConvertersCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.MediaType;

/**
 * The APIs speak JSON (and problem+json). swagger-core, under springdoc, brings Jackson 2's YAML
 * module onto the classpath, and Spring then registers a Jackson 2 YAML converter beside our Jackson 3
 * one: a client asking for {@code application/yaml} got our resources written by a second mapper with
 * other settings, and every response asked that mapper whether it could write the body (about 2 % of
 * the request threads' time in the provisioning benchmark). The OpenAPI document's YAML form is
 * springdoc's own string and does not need it.
 */
@Configuration(proxyBeanMethods = false)
class JsonOnlyConverters {

    @Bean
    ServerHttpMessageConvertersCustomizer withoutYamlConverter() {
        return builder -> builder.configureMessageConvertersList(list -> list.removeIf(
                c -> c.getSupportedMediaTypes().stream().anyMatch(MediaType.APPLICATION_YAML::equalsTypeAndSubtype)));
    }
}
