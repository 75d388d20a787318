package io.gpucloud.controlplane.web;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.List;
import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.core.JsonParser;
import tools.jackson.databind.DeserializationContext;
import tools.jackson.databind.ValueDeserializer;
import tools.jackson.databind.deser.DeserializationProblemHandler;
import tools.jackson.databind.exc.UnrecognizedPropertyException;

/**
 * Request bodies annotated {@link Reject} fail on unknown fields; everything else keeps the
 * mapper's lenient default. Customer requests want the strictness (a misspelt optional field
 * would otherwise be silently dropped), while worker/protocol payloads must tolerate fields added
 * by newer workers. Jackson's {@code @JsonIgnoreProperties(ignoreUnknown = false)} cannot override
 * a lenient global setting, hence this problem handler.
 */
@Configuration(proxyBeanMethods = false)
public class StrictJson {

    /** Marks a request record whose unknown JSON fields are a 400 problem naming the field. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    public @interface Reject {
    }

    @Bean
    JsonMapperBuilderCustomizer rejectUnknownFieldsOfStrictTypes() {
        return builder -> builder.addHandler(new DeserializationProblemHandler() {
            @Override
            public boolean handleUnknownProperty(DeserializationContext ctxt, JsonParser p,
                    ValueDeserializer<?> deserializer, Object beanOrClass, String propertyName) {
                Class<?> type = beanOrClass instanceof Class<?> c ? c : beanOrClass.getClass();
                if (type.isAnnotationPresent(Reject.class)) {
                    throw UnrecognizedPropertyException.from(p, beanOrClass, propertyName,
                            deserializer == null ? List.of() : deserializer.getKnownPropertyNames());
                }
                return false;
            }
        });
    }
}
