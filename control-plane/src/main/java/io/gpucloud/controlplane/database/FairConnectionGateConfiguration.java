package io.gpucloud.controlplane.database;

import javax.sql.DataSource;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Puts {@link FairConnectionGate} in front of the data source ({@code gpucloud.datasource.fair-gate}). */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "gpucloud.datasource.fair-gate", havingValue = "true", matchIfMissing = true)
class FairConnectionGateConfiguration {

    @Bean
    static BeanPostProcessor fairConnectionGate() {
        return new BeanPostProcessor() {
            @Override
            public Object postProcessAfterInitialization(Object bean, String beanName) {
                return bean instanceof DataSource ds && beanName.equals("dataSource") ? FairConnectionGate.around(ds) : bean;
            }
        };
    }
}
