package io.gpucloud.controlplane.database;

import com.zaxxer.hikari.HikariDataSource;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Puts {@link FairConnectionGate} in front of the Hikari pool ({@code gpucloud.datasource.fair-gate}). */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "gpucloud.datasource.fair-gate", havingValue = "true", matchIfMissing = true)
class FairConnectionGateConfiguration {

    @Bean
    static BeanPostProcessor fairConnectionGate() {
        return new BeanPostProcessor() {
            @Override
            public Object postProcessAfterInitialization(Object bean, String beanName) {
                return bean instanceof HikariDataSource pool ? new FairConnectionGate(pool) : bean;
            }
        };
    }
}
