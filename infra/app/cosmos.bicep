// Cosmos DB with local (key) auth off. The database and every container are declared here with the
// same partition key and indexing policy as shared/adapters/cosmos/cosmos-setup.ts: with Microsoft Entra the app
// never creates them (data-plane roles cannot), it only checks they exist at start.
param name string
param location string
param tags object
param serverless bool = true
param appPrincipalId string
param userPrincipalId string = ''

var databaseName = 'slotwise'
var containers = [
  {
    id: 'jobs'
    partitionKeyPath: '/tenant'
    excludedPaths: [
      '/request/*'
      '/tasks/*'
      '/events/*'
      '/history/*'
      '/batchBodies/*'
      '/plan/*'
      '/errors/*'
    ]
  }
  {
    id: 'chunks'
    partitionKeyPath: '/job'
    excludedPaths: [
      '/tasks/*'
    ]
    defaultTtl: -1
  }
  {
    id: 'tenants'
    partitionKeyPath: '/id'
    excludedPaths: []
  }
  {
    id: 'apikeys'
    partitionKeyPath: '/id'
    excludedPaths: []
  }
  {
    id: 'pools'
    partitionKeyPath: '/id'
    excludedPaths: []
  }
]

// Cosmos DB Built-in Data Contributor (a Cosmos SQL role, not an Azure RBAC role).
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: true
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: false }]
    capabilities: serverless ? [{ name: 'EnableServerless' }] : []
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: { resource: { id: databaseName } }
}

@batchSize(1)
resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [
  for c in containers: {
    parent: database
    name: c.id
    properties: {
      // Stored chunks expire by their own `ttl` (-1: on, no default expiry); the others send no defaultTtl.
      resource: union({
        id: c.id
        partitionKey: { paths: [c.partitionKeyPath], kind: 'Hash' }
        indexingPolicy: union({ indexingMode: 'consistent', automatic: true }, empty(c.excludedPaths) ? {} : {
          includedPaths: [{ path: '/*' }]
          excludedPaths: concat(map(c.excludedPaths, p => { path: p }), [{ path: '/"_etag"/?' }])
        })
      }, contains(c, 'defaultTtl') ? { defaultTtl: c.defaultTtl } : {})
      options: serverless ? {} : { autoscaleSettings: { maxThroughput: 1000 } }
    }
  }
]

// Cosmos DB takes one control-plane write per account at a time (a parallel one fails with 412, "another
// operation ... exclusive lock"): the role assignments follow the containers, one after the other.
resource appDataRole 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: account
  name: guid(account.id, appPrincipalId, cosmosDataContributor)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${cosmosDataContributor}'
    principalId: appPrincipalId
    scope: account.id
  }
  dependsOn: [sqlContainers]
}

// The operator's admin CLI (tenants, keys, limits) talks to Cosmos with the operator's own sign-in.
resource userDataRole 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = if (!empty(userPrincipalId)) {
  parent: account
  name: guid(account.id, userPrincipalId, cosmosDataContributor)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${cosmosDataContributor}'
    principalId: userPrincipalId
    scope: account.id
  }
  dependsOn: [appDataRole]
}

output endpoint string = account.properties.documentEndpoint
output databaseName string = databaseName
