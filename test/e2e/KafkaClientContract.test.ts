/** The `KafkaClient` contract (test/support/contract.ts) against a real broker, with each real client. */
import * as KafkaJs from "../../src/layers/kafka/KafkaJs.js"
import * as Platformatic from "../../src/layers/kafka/Platformatic.js"
import { kafkaClientContract } from "../support/contract.js"
import { realHarness } from "../support/realContract.js"

kafkaClientContract(realHarness("kafkajs", (brokers) => KafkaJs.layer({ brokers, clientId: "contract-kafkajs" }), "empty"))
kafkaClientContract(
  realHarness("platformatic", (brokers) => Platformatic.layer({ brokers, clientId: "contract-platformatic" }), "null")
)
