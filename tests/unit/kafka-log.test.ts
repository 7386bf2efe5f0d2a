import { isRetriedKafkaLog } from '../../engines/kafka';

describe('kafkajs log filter', () => {
  it('drops what kafkajs retries by itself (lines seen on a fresh broker)', () => {
    expect(
      isRetriedKafkaLog(
        'Response InitProducerId(key: 22, version: 1)',
        "The coordinator is loading and hence can't process requests for this group",
      ),
    ).toBe(true);
    expect(
      isRetriedKafkaLog(
        "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group",
      ),
    ).toBe(true);
    expect(isRetriedKafkaLog('Restarting the consumer in 300ms')).toBe(true);
    expect(isRetriedKafkaLog('Response GroupCoordinator', 'The coordinator is not available')).toBe(true);
    // A transactional producer fencing a killed attempt while the broker still aborts its transaction.
    expect(
      isRetriedKafkaLog(
        'Response InitProducerId(key: 22, version: 1)',
        'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
      ),
    ).toBe(true);
  });

  it('keeps every other error', () => {
    expect(isRetriedKafkaLog('Response Produce', 'This server does not host this topic-partition')).toBe(false);
    expect(isRetriedKafkaLog('Crash: KafkaJSNonRetriableError: Topic authorization failed')).toBe(false);
    expect(isRetriedKafkaLog('Connection error: connect ECONNREFUSED 127.0.0.1:9092')).toBe(false);
  });
});
